"""Error reports: what went wrong inside the agent or the window, kept on this machine."""
