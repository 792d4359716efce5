"""Helpers that run the real servers the tests talk to."""
