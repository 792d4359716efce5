"""Fixtures for OpenID Connect sign-in tests live in the modules (module-scoped hubs)."""
