"""The HTTP client the CLI subcommands use to talk to a running agent."""
