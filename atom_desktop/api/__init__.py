"""The local HTTP API: ``create_app(runtime)``, its security layer and routes."""
