"""Running commands: processes, their output, their trees, their records."""
