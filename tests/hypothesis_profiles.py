"""Hypothesis depth: the `ci` profile (the default, today's depth) and a `dev` profile
with a tenth of the examples for quick local runs (`make test-fast`).

Chosen by $HYPOTHESIS_PROFILE; CI never sets it, so CI keeps the full depth.
"""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

settings.register_profile("ci", deadline=None)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.load_profile(PROFILE)


def examples(ci: int) -> int:
    """The number of examples for a test that sets its own count at CI depth."""
    return ci if PROFILE == "ci" else max(3, ci // 10)
