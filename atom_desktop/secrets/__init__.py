"""Secrets: the OS keyring, the database-key policy, API tokens."""
