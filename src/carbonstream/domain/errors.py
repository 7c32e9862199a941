"""What the domain refuses, said without HTTP.

A domain call that cannot answer as asked (no such restatement, a period the
restatement does not hold) raises a :class:`RefusalError`; the API turns it into an
RFC 9457 problem (``api.problems``), a command prints it. ``kind`` is the
problem type, so the API's mapping is one exhaustive ``match``.
"""

from __future__ import annotations

from typing import Literal

from carbonstream.errors import CarbonstreamError
from carbonstream.i18n import Msg

RefusalKind = Literal[
    "not-found", "invalid-request", "invalid-period", "already-claimed", "ledger-rule"
]


class RefusalError(CarbonstreamError):
    """A request the domain cannot answer as asked; ``detail`` says why (a catalogue message
    in both languages, or a ledger rule's own sentence)."""

    def __init__(self, kind: RefusalKind, detail: Msg | str) -> None:
        super().__init__(str(detail))
        self.kind: RefusalKind = kind
        self.detail = detail


class NotFoundError(RefusalError):
    """No ``what`` named ``name`` (a restatement id, a site id)."""

    def __init__(self, what: str, name: str) -> None:
        super().__init__("not-found", Msg("problems.detail.no-such", {"what": what, "name": name}))
        self.what, self.name = what, name
