"""MQTT topic names. The version is part of the topic: a new payload version gets new topics."""

from __future__ import annotations

import re

PREFIX = "carbonstream/v1"
SIGNED_PREFIX = "carbonstream/v2"  # signed batches (payload v2, transport.signing)
_SEGMENT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _check(name: str, what: str) -> str:
    if not _SEGMENT.match(name):
        raise ValueError(
            f"{what} {name!r} cannot be an MQTT topic segment (use A-Z a-z 0-9 _ . : -)"
        )
    return name


def readings_topic(site: str, gateway: str) -> str:
    """carbonstream/v1/{site}/{gateway}/readings (QoS 1)."""
    return f"{PREFIX}/{_check(site, 'site')}/{_check(gateway, 'gateway')}/readings"


def signed_readings_topic(site: str, gateway: str) -> str:
    """carbonstream/v2/{site}/{gateway}/readings (QoS 1): signed batches."""
    return f"{SIGNED_PREFIX}/{_check(site, 'site')}/{_check(gateway, 'gateway')}/readings"


def status_topic(site: str, gateway: str) -> str:
    """carbonstream/v1/{site}/{gateway}/status (retained; birth and last will)."""
    return f"{PREFIX}/{_check(site, 'site')}/{_check(gateway, 'gateway')}/status"


READINGS_SUBSCRIPTION = f"{PREFIX}/+/+/readings"
SIGNED_READINGS_SUBSCRIPTION = f"{SIGNED_PREFIX}/+/+/readings"
STATUS_SUBSCRIPTION = f"{PREFIX}/+/+/status"


def parse(topic: str) -> tuple[str, str, str] | None:
    """(site, gateway, kind) of a carbonstream topic (v1, or v2: signed), or None. A
    deployment prefix before ``carbonstream/v1`` (a gateway's ``broker.topic_prefix``, the
    demo's run prefix) is allowed; the last five segments are the topic."""
    parts = topic.split("/")
    if len(parts) < 5 or "/".join(parts[-5:-3]) not in (PREFIX, SIGNED_PREFIX):
        return None
    return parts[-3], parts[-2], parts[-1]


def is_signed(topic: str) -> bool:
    """A topic of signed batches: carbonstream/v2/... (after any deployment prefix)."""
    parts = topic.split("/")
    return len(parts) >= 5 and parts[-5] == "carbonstream" and parts[-4] == "v2"
