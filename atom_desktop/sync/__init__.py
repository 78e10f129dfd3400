"""Optional sync with the shared ATOM PostgreSQL; ``server/`` is the server-side schema."""
