"""Problem details in the reader's language: Accept-Language chooses zh-CN or en, the
plant's `locale` applies when the client does not ask, and `type` never changes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.api.conftest import PLANT, Api, serve

# slow: starts the app for each request language (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_a_missing_key_is_refused_in_chinese_to_a_chinese_client(api: Api) -> None:
    en = api.client.get("/v1/me")
    zh = api.client.get("/v1/me", headers=ZH)
    assert en.status_code == zh.status_code == 401
    assert (
        en.json()["type"] == zh.json()["type"] == "https://carbonstream.dev/problems/unauthorized"
    )
    assert en.json()["title"] == "Unauthorized" and zh.json()["title"] == "未授权"
    assert zh.json()["detail"] == "请在 X-API-Key 请求头中发送 API 密钥"
    assert zh.headers["content-language"] == "zh-CN" and en.headers["content-language"] == "en"


def test_not_found_names_the_thing_in_the_readers_language(api: Api) -> None:
    h = {**api.headers("viewer"), **ZH}
    r = api.client.get("/v1/sites/hall-9", headers=h)
    assert r.status_code == 404
    assert r.json()["title"] == "未找到" and r.json()["detail"] == "没有厂区 'hall-9'"
    r = api.client.get("/v1/sites/hall-9", headers=api.headers("viewer"))
    assert r.json()["detail"] == "no site 'hall-9'"


def test_validation_errors_keep_their_fields_and_say_the_rest_in_chinese(api: Api) -> None:
    h = {**api.headers("viewer"), **ZH}
    r = api.client.get("/v1/emissions?bucket=fortnight", headers=h)
    assert r.status_code == 422
    body = r.json()
    assert body["title"] == "请求无效" and body["detail"].startswith("字段无效：")
    assert body["errors"] and body["type"].endswith("/invalid-request")


def test_unknown_paths_are_404_in_chinese(api: Api) -> None:
    r = api.client.get("/v1/nowhere", headers=ZH)
    assert r.status_code == 404 and r.json()["title"] == "未找到"
    assert r.json()["detail"] == "没有这个路径"
    assert api.client.get("/v1/nowhere").json()["detail"] == "Not Found"
    r = api.client.delete("/v1/sites", headers=ZH)
    assert r.status_code == 405 and r.json()["detail"] == "此路径不接受该请求方法"


@pytest.fixture
def chinese_plant_api(migrated_db: str, tmp_path: Path) -> Iterator[Api]:
    # The example's folder as it is (its factor and profile files are relative to it),
    # with the plant's locale set to zh-CN.
    folder = tmp_path / "config"
    shutil.copytree(PLANT.parent, folder)
    plant = folder / PLANT.name
    data = yaml.safe_load(plant.read_text("utf-8"))
    data["locale"] = "zh-CN"
    plant.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    yield from serve(migrated_db, plant)


def test_the_plants_locale_applies_when_the_client_does_not_ask(chinese_plant_api: Api) -> None:
    api = chinese_plant_api
    assert api.client.get("/v1/me").json()["title"] == "未授权"
    r = api.client.get("/v1/me", headers={"Accept-Language": "en-GB"})
    assert r.json()["title"] == "Unauthorized"
    page = api.client.get("/i18n/live.json").json()
    assert page["locale"] == "zh-CN" and page["messages"]["zh-CN"]["scope1"] == "范围一"
