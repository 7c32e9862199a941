"""Service settings (ingest, API): one loader, each service its own model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from carbonstream.api.settings import load_api_settings
from carbonstream.config.settings import ServiceSettings
from carbonstream.envsecret import env_secret
from carbonstream.errors import ConfigError
from carbonstream.ingest.settings import MqttSettings, load_ingest_settings

LOADERS: list[Callable[[Path], ServiceSettings]] = [load_api_settings, load_ingest_settings]


@pytest.mark.parametrize("load", LOADERS)
def test_the_plant_path_is_relative_to_the_settings_file(
    load: Callable[[Path], ServiceSettings], tmp_path: Path
) -> None:
    (tmp_path / "conf").mkdir()
    f = tmp_path / "conf" / "service.yaml"
    f.write_text("plant: ../plants/p.yaml\ndatabase: {data_dir: pg}\n")
    s = load(f)
    assert s.plant == str((tmp_path / "plants" / "p.yaml").resolve())
    assert s.database.data_dir == "pg"
    absolute = tmp_path / "elsewhere.toml"
    absolute.write_text(f'plant = "{tmp_path / "p.toml"}"\n')
    assert load(absolute).plant == str(tmp_path / "p.toml")


@pytest.mark.parametrize("load", LOADERS)
def test_a_bad_file_names_the_field(
    load: Callable[[Path], ServiceSettings], tmp_path: Path
) -> None:
    f = tmp_path / "service.yaml"
    f.write_text("plant: p.yaml\ndatabase: {writers: 0, colour: blue}\n")
    with pytest.raises(ConfigError) as e:
        load(f)
    text = str(e.value)
    assert str(f) in text and "database.writers" in text and "database.colour" in text


def test_a_secret_comes_from_the_variable_its_field_names(monkeypatch: pytest.MonkeyPatch) -> None:
    var = "CARBONSTREAM_TEST_SETTINGS_SECRET"
    monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError) as e:
        env_secret("mqtt.password_env", var)
    assert f"environment variable {var} is not set" in str(e.value)
    assert "remove mqtt.password_env" in str(e.value)
    mqtt = MqttSettings(username="ingest", password_env=var)
    with pytest.raises(ConfigError, match=r"mqtt\.password_env"):
        mqtt.secret()
    monkeypatch.setenv(var, "s3cret")
    assert env_secret("mqtt.password_env", var) == "s3cret"
    assert mqtt.secret() == "s3cret"
