"""The sync server's side: its schema (our own migrations), its roles and tenants."""
