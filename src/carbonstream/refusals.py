"""Refusals that speak both languages: errors whose detail is a catalogue message.

They derive from the one root (:class:`carbonstream.errors.CarbonstreamError`) but
live apart from it: they carry an i18n :class:`~carbonstream.i18n.Msg`, and i18n's own
error derives from the root, so the root module cannot import i18n without a circle.
"""

from __future__ import annotations

from collections.abc import Sequence

from carbonstream.errors import CarbonstreamError
from carbonstream.i18n import Msg


class FootprintError(CarbonstreamError):
    """A product footprint cannot be computed as asked (unknown product or lot). ``detail``
    says why: a catalogue message (both languages; ``str()`` is the English), or text."""

    def __init__(self, detail: Msg | str) -> None:
        super().__init__(str(detail))
        self.detail = detail


class FootprintInputError(FootprintError):
    """A lot, bill of materials or upstream factor as given is refused; says why and how,
    and lists each refused item in ``problems`` (the detail itself for a single one)."""

    def __init__(self, detail: Msg, problems: Sequence[Msg] | None = None) -> None:
        super().__init__(detail)
        self.detail: Msg = detail
        self.problems: list[Msg] = list(problems) if problems else [detail]


class SigningKeyError(FootprintError):
    """The disclosure signing key is missing or is not an Ed25519 private key."""
