"""Errors of the store, each saying what to do."""

from __future__ import annotations

from carbonstream.errors import CarbonstreamError


class StoreError(CarbonstreamError):
    """Base of the store's errors."""


class SchemaError(StoreError):
    """The schema is missing or not what this version expects: run `carbonstream migrate`."""


class DatabaseUnavailableError(StoreError):
    """The database cannot be reached: check the URL and that the server is up; ingest retries."""


class NoPlantError(StoreError):
    """The database holds no plant yet: ingest (or the demo) stores it when it starts."""
