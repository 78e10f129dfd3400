"""Integrations: the OAuth 2.0 engine, the token vault and the provider catalogue."""
