"""Framework-free building blocks shared by every package: errors, events, ids."""
