"""Certificate allocation and offset retirement rules.

Green electricity certificates (GEC, 1 certificate = 1 MWh) and green-power
trades are allocated to a site and a consumption period; CCER offsets
(1 credit = 1 tCO2e) are retired for a purpose. Under the GHG Protocol Scope 2
Quality Criteria and the GEC rules (NEA, 2024):

- a serial can be claimed once: allocations of one certificate batch never
  overlap in serials, and never exceed the batch;
- an allocation never exceeds the consumption it covers (site and period);
- a certificate is usable only while valid: two years from its generation
  month (certificates for power generated before 2024 lapse at the end of 2025);
- the consumption period must match the vintage: same calendar year as the
  generation (the 2015 Scope 2 Guidance's annual matching);
- a CCER credit is retired once, for one purpose, and offsets only change
  *net* emissions, never Scope 1 or Scope 2.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from carbonstream.errors import CarbonstreamError
from carbonstream.i18n import Msg

# Serial numbers are stored as int8 and ranges as int8range(start, end + 1): with 18
# digits at most, end + 1 always fits (2^63 - 1 has 19).
MAX_SERIAL = 10**18 - 1
_SERIALS = re.compile(r"^(?P<prefix>[A-Za-z0-9_-]*?)(?P<start>\d+)-(?P=prefix)(?P<end>\d+)$")


class LedgerError(CarbonstreamError):
    """A claim the ledger refuses; ``detail`` says which rule and what to do (a catalogue
    message in both languages; ``str()`` is the English)."""

    def __init__(self, detail: Msg) -> None:
        super().__init__(str(detail))
        self.detail = detail


@dataclass(frozen=True, order=True)
class SerialRange:
    prefix: str
    start: int
    end: int  # inclusive

    @classmethod
    def parse(cls, text: str) -> SerialRange:
        """'GEC2026110001-GEC2026110020' -> prefix 'GEC', 2026110001 .. 2026110020."""
        m = _SERIALS.match(text.strip())
        if not m:
            raise LedgerError(Msg("problems.detail.serials-malformed", {"text": text}))
        r = cls(m["prefix"], int(m["start"]), int(m["end"]))
        if r.end < r.start:
            raise LedgerError(Msg("problems.detail.serials-reversed", {"text": text}))
        if r.end > MAX_SERIAL:
            raise LedgerError(
                Msg("problems.detail.serials-too-long", {"max": MAX_SERIAL, "end": r.end})
            )
        return r

    @property
    def count(self) -> int:
        return self.end - self.start + 1

    def overlaps(self, other: SerialRange) -> bool:
        return self.prefix == other.prefix and self.start <= other.end and other.start <= self.end

    def contains(self, other: SerialRange) -> bool:
        return self.prefix == other.prefix and self.start <= other.start and other.end <= self.end

    def __str__(self) -> str:
        return f"{self.prefix}{self.start}-{self.prefix}{self.end}"


@dataclass(frozen=True)
class Certificate:
    """A batch of GECs (or a green-power trade's certificates) held by the plant."""

    id: str
    serials: SerialRange
    generation_start: dt.date
    generation_end: dt.date
    project: str = ""

    @property
    def mwh(self) -> int:
        return self.serials.count

    @property
    def valid_until(self) -> dt.date:
        """Two years from the generation month; pre-2024 power lapses at the end of 2025."""
        g = self.generation_start
        if g < dt.date(2024, 1, 1):
            return dt.date(2025, 12, 31)
        last = dt.date(g.year + 2, g.month, 1) - dt.timedelta(days=1)
        return last


@dataclass(frozen=True)
class Allocation:
    certificate: str
    serials: SerialRange
    site: str
    period_start: dt.date
    period_end: dt.date
    allocated_on: dt.date


def check_allocation(
    cert: Certificate,
    new: Allocation,
    existing: list[Allocation],
    consumption_mwh: float,
    already_covered_mwh: float,
) -> None:
    """Raise LedgerError if ``new`` breaks a rule; ``existing`` are all of cert's allocations."""
    if new.certificate != cert.id:
        raise LedgerError(
            Msg(
                "problems.detail.allocation-other-certificate",
                {"named": new.certificate, "cert": cert.id},
            )
        )
    if not cert.serials.contains(new.serials):
        raise LedgerError(
            Msg(
                "problems.detail.serials-not-in-certificate",
                {"serials": new.serials, "cert": cert.id, "cert_serials": cert.serials},
            )
        )
    for a in existing:
        if a.serials.overlaps(new.serials):
            raise LedgerError(
                Msg(
                    "problems.detail.serials-allocated",
                    {
                        "serials": new.serials,
                        "other": a.serials,
                        "site": a.site,
                        "start": a.period_start,
                        "end": a.period_end,
                    },
                )
            )
    if new.period_end < new.period_start:
        raise LedgerError(Msg("problems.detail.allocation-period-reversed"))
    if new.allocated_on > cert.valid_until:
        raise LedgerError(
            Msg("problems.detail.certificate-expired", {"cert": cert.id, "until": cert.valid_until})
        )
    if (new.period_start.year, new.period_end.year) != (
        cert.generation_start.year,
        cert.generation_start.year,
    ):
        raise LedgerError(
            Msg(
                "problems.detail.certificate-vintage",
                {
                    "cert": cert.id,
                    "year": cert.generation_start.year,
                    "start": new.period_start,
                    "end": new.period_end,
                },
            )
        )
    room = consumption_mwh - already_covered_mwh
    if new.serials.count > room + 1e-9:
        raise LedgerError(
            Msg(
                "problems.detail.certificate-exceeds-consumption",
                {
                    "mwh": new.serials.count,
                    "room": room,
                    "site": new.site,
                    "start": new.period_start,
                    "end": new.period_end,
                },
            )
        )


@dataclass(frozen=True)
class Offset:
    """A batch of CCER credits held (1 credit = 1 tCO2e)."""

    id: str
    serials: SerialRange
    project: str
    vintage: int

    @property
    def tonnes(self) -> int:
        return self.serials.count


@dataclass(frozen=True)
class Retirement:
    offset: str
    serials: SerialRange
    retired_on: dt.date
    purpose: str  # e.g. "2026 zero-carbon claim, site assembly"
    site: str | None = None


def check_retirement(offset: Offset, new: Retirement, existing: list[Retirement]) -> None:
    if not offset.serials.contains(new.serials):
        raise LedgerError(
            Msg(
                "problems.detail.serials-not-in-offset",
                {"serials": new.serials, "offset": offset.id},
            )
        )
    for r in existing:
        if r.serials.overlaps(new.serials):
            raise LedgerError(
                Msg(
                    "problems.detail.credits-retired",
                    {
                        "serials": new.serials,
                        "other": r.serials,
                        "on": r.retired_on,
                        "purpose": r.purpose,
                    },
                )
            )
    if not new.purpose.strip():
        raise LedgerError(Msg("problems.detail.retirement-needs-purpose"))


@dataclass(frozen=True)
class NetEmissions:
    scope1_t: float
    scope2_t: float
    scope2_basis: str
    offsets_t: float
    net_t: float
    zero_carbon: bool
    remaining_t: float  # what is left to reduce or offset; 0 when zero-carbon
    over_offset: bool  # net < 0: more retired than emitted (net is never clamped)
    over_offset_t: float


def net_emissions(
    scope1_t: float, scope2_t: float, offsets_t: float, scope2_basis: str = "market"
) -> NetEmissions:
    """Net = Scope 1 + Scope 2 (chosen basis) - retired offsets; gross is kept beside it."""
    net = scope1_t + scope2_t - offsets_t
    return NetEmissions(
        scope1_t,
        scope2_t,
        scope2_basis,
        offsets_t,
        net,
        net <= 0.0,
        max(net, 0.0),
        net < 0.0,
        max(-net, 0.0),
    )
