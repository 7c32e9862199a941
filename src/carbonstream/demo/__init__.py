"""``carbonstream demo``: a live plant on one machine with one command (see docs/demo.md)."""

from carbonstream.demo.runner import Options, run

__all__ = ["Options", "run"]
