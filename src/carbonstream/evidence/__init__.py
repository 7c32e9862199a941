"""Verifiable evidence: a hash chain over stored readings, day by day."""

from carbonstream.core.chain import GENESIS, DayDigest, chain_days, day_digest, verify_chain

__all__ = ["GENESIS", "DayDigest", "chain_days", "day_digest", "verify_chain"]
