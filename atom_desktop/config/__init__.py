"""Settings, file-system locations and logging set-up."""
