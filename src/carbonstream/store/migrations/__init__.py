"""Versioned SQL migrations (package data, applied by carbonstream.store.migrate)."""
