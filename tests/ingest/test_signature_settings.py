"""Ingest's signature settings: production is the default, and a setting that would refuse
every message of a configured input fails at load with the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from carbonstream.ingest.settings import IngestSettings


def _settings(**extra: Any) -> IngestSettings:
    return IngestSettings.model_validate({"plant": "plant.yaml", **extra})


def test_signatures_are_required_by_default_and_both_versions_subscribed() -> None:
    s = _settings()
    assert s.signatures.required is True
    assert s.signatures.unsigned_gateways == [] and s.signatures.unsigned_sparkplug is False
    assert s.mqtt.topics == ["carbonstream/v2/+/+/readings", "carbonstream/v1/+/+/readings"]


def test_sparkplug_needs_unsigned_sparkplug_when_signatures_are_required() -> None:
    with pytest.raises(ValidationError, match=r"signatures.unsigned_sparkplug: true"):
        _settings(sparkplug={"enabled": True})
    s = _settings(sparkplug={"enabled": True}, signatures={"unsigned_sparkplug": True})
    assert s.sparkplug.enabled


def test_required_signatures_need_a_v2_subscription() -> None:
    with pytest.raises(ValidationError, match=r"mqtt.topics: signatures are required"):
        _settings(mqtt={"topics": ["carbonstream/v1/+/+/readings"]})
    s = _settings(mqtt={"topics": ["carbonstream/v1/+/+/readings"]}, signatures={"required": False})
    assert not s.signatures.required
