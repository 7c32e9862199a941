"""Ledgers of contractual instruments and offsets: the rules that keep claims unique.

Pure domain logic (no I/O): the store enforces the same rules with
constraints, and the API calls these checks to explain a refusal.
"""

from carbonstream.ledger.rules import (
    Allocation,
    Certificate,
    LedgerError,
    Offset,
    Retirement,
    SerialRange,
    check_allocation,
    check_retirement,
    net_emissions,
)

__all__ = [
    "Allocation",
    "Certificate",
    "LedgerError",
    "Offset",
    "Retirement",
    "SerialRange",
    "check_allocation",
    "check_retirement",
    "net_emissions",
]
