"""Which gateway may report which meters: the plant file's ``gateways:`` section.

A gateway's id is also its MQTT user name, and it publishes on its own site's
topic (``carbonstream/v1/{site}/{id}/readings``). Ingest accepts a reading only
from the gateway that owns its meter, on that gateway's site; the broker's ACL
(``carbonstream deploy acl``) is generated from the same section. So the
binding is checked here, when the plant file loads: every meter named exists,
sits at the gateway's site, and has at most one gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from carbonstream.config.gateway_keys import GatewayKey

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class GatewayBinding(BaseModel):
    """One edge gateway: its id (= MQTT user), its site and the meters it may report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier = Field(description="Gateway id, also its MQTT user name and topic segment.")
    site: Identifier = Field(description="The site whose topic it publishes on.")
    meters: list[Identifier] = Field(
        min_length=1, description="Meters it may report; each at this site, one gateway each."
    )
    description: str = ""
    keys: list[GatewayKey] = Field(
        default_factory=list,
        description="Ed25519 public keys it signs its batches with (rotation: several, each "
        "with its validity; revocation: revoked_at). See config/gateway_keys.py.",
    )


def binding_problems(
    gateways: Sequence[GatewayBinding], sites: set[str], meter_site: Mapping[str, str]
) -> list[str]:
    """What is wrong with a plant's bindings, each naming the field path and the fix."""
    problems: list[str] = []
    owner: dict[str, str] = {}
    seen: set[str] = set()
    for i, g in enumerate(gateways):
        where = f"gateways[{i}] (id {g.id!r})"
        if g.id in seen:
            problems.append(f"{where}.id: gateway {g.id!r} is listed twice; merge the entries")
        seen.add(g.id)
        if g.site not in sites:
            problems.append(f"{where}.site: unknown site {g.site!r}; use one of {sorted(sites)}")
        for j, m in enumerate(g.meters):
            at = f"{where}.meters[{j}]"
            site = meter_site.get(m)
            if site is None:
                problems.append(f"{at}: unknown meter {m!r}; add it under meters: or remove it")
            elif site != g.site:
                problems.append(
                    f"{at}: meter {m!r} is at site {site!r}, not the gateway's site "
                    f"{g.site!r}; bind it to a gateway of site {site!r}"
                )
            elif m in owner and owner[m] != g.id:
                problems.append(
                    f"{at}: meter {m!r} is already bound to gateway {owner[m]!r}; a meter has "
                    "one gateway: remove it from one of them"
                )
            elif m in owner:
                problems.append(f"{at}: meter {m!r} is listed twice; remove one")
            else:
                owner[m] = g.id
    return problems
