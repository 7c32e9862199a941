"""Admission to heavy work: live event streams and report renders, per key and in all.

One viewer key opened 400 event streams; eight parallel monthly PDF reports took
32 s of CPU on two cores. A :class:`Gate` counts what each key holds and what is
held in all, and refuses one more with 429 and ``Retry-After`` (RFC 9457 problem).
The limits are :class:`~carbonstream.api.settings.ApiLimits`. Counting is plain
arithmetic on the event loop's thread (no await between the check and the
increment), so it needs no lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from carbonstream.api.problems import MEDIA_TYPE, Problem
from carbonstream.i18n import Msg

TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Over the key's or the server's limit (see Retry-After)",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": {MEDIA_TYPE: {"schema": {"type": "object"}}},
    }
}


@dataclass
class Slot:
    """One admitted unit of work; :meth:`release` is idempotent."""

    gate: Gate
    key_id: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gate.held[self.key_id] -= 1
            if self.gate.held[self.key_id] <= 0:
                del self.gate.held[self.key_id]


@dataclass
class Gate:
    what: str  # "live streams", "report renders": the problem's `limit`
    noun: Msg  # the same, in the reader's language
    per_key: int
    total: int
    retry_after_s: int
    held: Counter[str] = field(default_factory=Counter)

    @property
    def in_use(self) -> int:
        return sum(self.held.values())

    def admit(self, key_id: str) -> Slot:
        retry = self.retry_after_s
        if self.held[key_id] >= self.per_key:
            raise self._busy(
                Msg(
                    "problems.detail.too-many-per-key",
                    {"key_id": key_id, "limit": self.per_key, "what": self.noun, "retry": retry},
                )
            )
        if self.in_use >= self.total:
            raise self._busy(
                Msg(
                    "problems.detail.too-many-total",
                    {"limit": self.total, "what": self.noun, "retry": retry},
                )
            )
        self.held[key_id] += 1
        return Slot(self, key_id)

    @contextmanager
    def slot(self, key_id: str) -> Iterator[Slot]:
        s = self.admit(key_id)
        try:
            yield s
        finally:
            s.release()

    def _busy(self, detail: Msg) -> Problem:
        return Problem(
            429,
            "Too many requests",
            detail,
            "too-many-requests",
            headers={"Retry-After": str(self.retry_after_s)},
            limit=self.what,
        )
