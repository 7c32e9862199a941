"""The public disclosure over the ingested example: keyless and read-only, aggregates only
(every field walked against an allow-list), signed with Ed25519 and checked with the real
``openssl`` binary, a tool that is not ours."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonstream.store.db import connect
from tests.api import data
from tests.api.conftest import ROOT, Api, serve

ENV = "CARBONSTREAM_DISCLOSURE_KEY_FILE"
BASE = "/public/example-suzhou"
OPENSSL = shutil.which("openssl")
pytestmark = [
    pytest.mark.skipif(OPENSSL is None, reason="openssl is installed by .ci/run"),
    pytest.mark.slow,  # signs and verifies disclosures with openssl (out of make test-fast)
]


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "disclosure.key"
    assert OPENSSL is not None
    subprocess.run(
        [OPENSSL, "genpkey", "-algorithm", "ed25519", "-out", str(path)],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv(ENV, str(path))
    return path


@pytest.fixture
def api(example_db: str, key_file: Path) -> Iterator[Api]:
    yield from serve(example_db)


def _retire(api: Api) -> None:
    h = api.headers("operator")
    ccer = {
        "id": "CCER-OW-1",
        "project": "Offshore wind, Jiangsu Rudong",
        "serials": "CCER2025000001-CCER2025000100",
        "vintage": 2025,
    }
    assert api.client.post("/v1/offsets", json=ccer, headers=h).status_code == 201
    ret = {
        "serials": "CCER2025000001-CCER2025000010",
        "purpose": "2026 zero-carbon claim",
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
    }
    r = api.client.post("/v1/offsets/CCER-OW-1/retirements", json=ret, headers=h)
    assert r.status_code == 201, r.text


def _verify(tmp: Path, body: bytes, sig: bytes, pem: bytes) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    (tmp / "d.json").write_bytes(body)
    (tmp / "d.sig").write_bytes(sig)
    (tmp / "pub.pem").write_bytes(pem)
    return subprocess.run(
        [OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "pub.pem"), "-rawin",
         "-in", str(tmp / "d.json"), "-sigfile", str(tmp / "d.sig")],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip


def test_signed_disclosure_verifies_with_openssl(api: Api, tmp_path: Path) -> None:
    _retire(api)
    c = api.client
    r = c.get(f"{BASE}/disclosure.json", params={"year": 2026})  # no key
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.content
    sig = base64.b64decode(r.headers["X-Signature-Ed25519"])
    assert len(sig) == 64
    assert c.get(f"{BASE}/disclosure.json.sig", params={"year": 2026}).content == sig
    pem = c.get(f"{BASE}/disclosure.pub.pem").content
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    ok = _verify(tmp_path, body, sig, pem)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout, ok.stderr
    # One changed byte (a figure) and the signature no longer verifies.
    tampered = body.replace(b'"year":2026', b'"year":2027')
    assert tampered != body
    assert _verify(tmp_path, tampered, sig, pem).returncode != 0
    # The figures are the account's: the year's totals equal the inventory of the year.
    doc = r.json()
    inv = c.get("/v1/inventory", params={"year": 2026}, headers=api.headers("viewer")).json()
    totals = inv["totals"]
    assert doc["year_total"]["scope1_t"] == pytest.approx(totals["scope1_t"], rel=1e-9)
    assert doc["year_total"]["scope2_market_t"] == pytest.approx(
        totals["scope2_market_t"], rel=1e-9
    )
    assert [m["month"] for m in doc["months"]] == ["2026-11"]
    (off,) = doc["offsets_retired"]
    assert off["serials"] == "CCER2025000001-CCER2025000010" and off["tco2e"] == 10
    zc = doc["zero_carbon"]
    assert zc["net_t"] == pytest.approx(
        totals["scope1_t"] + totals["scope2_market_t"] - 10, rel=1e-9
    )
    (castings,) = doc["products"]
    fp = c.get(
        "/v1/products/castings/footprint", params={"year": 2026}, headers=api.headers("viewer")
    ).json()["footprint"]
    assert castings["kgco2e_per_unit_market"] == pytest.approx(
        fp["parts"]["kgco2e_per_unit_market"], rel=1e-12
    )
    # Energy in tce is the energy module's account of the same months (GET /v1/energy).
    energy = c.get(
        "/v1/energy",
        params={"month": "2026-11", "bucket": "month", "by": "plant"},
        headers=api.headers("viewer"),
    ).json()
    assert doc["months"][0]["energy_tce"] == pytest.approx(
        energy["totals"]["plant"]["total_tce"], rel=1e-9
    )
    assert doc["year_total"]["energy_tce"] == pytest.approx(
        energy["totals"]["plant"]["total_tce"], rel=1e-9
    )
    assert "GB/T 2589" in doc["energy_note"]
    # The page shows the same document, in Chinese by default and in English on request.
    zh = c.get(BASE, params={"year": 2026})
    assert zh.status_code == 200 and "碳信息公开披露" in zh.text and "CCER2025000001" in zh.text
    assert "Public carbon disclosure" in c.get(BASE, params={"year": 2026, "lang": "en"}).text
    assert "script" not in zh.headers["content-security-policy"]


# Every path the document may have ([] = any list index), and nothing else.
ALLOWED = {
    "plant", "slug", "year", "timezone", "energy_note", "gwp",
    "months", "offsets_retired", "products", "methodology",
    "months[]", "months[].month", "months[].scope1_t", "months[].scope2_location_t",
    "months[].scope2_market_t", "months[].energy_tce", "months[].green_electricity_share",
    "year_total", "year_total.scope1_t", "year_total.scope2_location_t",
    "year_total.scope2_market_t", "year_total.energy_tce", "year_total.green_electricity_share",
    "offsets_retired[]", "offsets_retired[].project", "offsets_retired[].registry",
    "offsets_retired[].vintage", "offsets_retired[].serials", "offsets_retired[].tco2e",
    "offsets_retired[].retired_on",
    "zero_carbon", "zero_carbon.scope2_basis", "zero_carbon.gross_t",
    "zero_carbon.scope3_in_net_t", "zero_carbon.offsets_retired_t", "zero_carbon.net_t",
    "zero_carbon.zero_carbon", "zero_carbon.enough_data",
    "products[]", "products[].product", "products[].name", "products[].name.zh",
    "products[].name.en", "products[].declared_unit", "products[].quantity", "products[].lots",
    "products[].kgco2e_per_unit_market", "products[].kgco2e_per_unit_location",
    "products[].boundary",
    "methodology[]",
    "evidence_chain_head", "evidence_chain_head.day", "evidence_chain_head.sha256",
    "evidence_chain_head.readings",
    "signature", "signature.algorithm", "signature.signed_bytes", "signature.public_key",
}  # fmt: skip
# Months and the year are aggregates; their values are numbers, never a meter's.
NUMERIC_OR_NULL = re.compile(r"(_t|_share|_tce|quantity|lots|readings|vintage|year)$")


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{path}.{k}" if path else k
            yield p, v
            yield from walk(v, p)
    elif isinstance(node, list):
        for v in node:
            yield f"{path}[]", v
            yield from walk(v, f"{path}[]")


def test_disclosure_exposes_nothing_meter_level_or_key_protected(api: Api, key_file: Path) -> None:
    _retire(api)
    with connect(api.db_url) as conn:
        conn.execute("INSERT INTO evidence_chain (day, digest, readings, prev) SELECT"
                     " '2026-11-24', repeat('ab', 32), 5, repeat('00', 32)")  # fmt: skip
    doc = api.client.get(f"{BASE}/disclosure.json", params={"year": 2026}).json()
    plant = yaml.safe_load((ROOT / "config" / "plant.example.yaml").read_text("utf-8"))
    secrets = [
        *(m["id"] for m in plant["meters"]),  # meter ids
        *api.tokens.values(),  # API keys
        "test VIEWER", "test OPERATOR", "test ADMIN", "cs_",  # key names and prefixes
        "lineage", "castings-2026",  # lineage records, lot ids (meter ids above)
        "zero-carbon claim",  # the retirement's purpose, typed by an operator
        key_file.read_text(), "PRIVATE",  # the signing key
    ]  # fmt: skip
    seen = set()
    for path, value in walk(doc):
        seen.add(path)
        assert path in ALLOWED, f"unexpected field {path}"
        if NUMERIC_OR_NULL.search(path):
            assert value is None or isinstance(value, int | float), (path, value)
        if isinstance(value, str):
            for s in secrets:
                assert s.lower() not in value.lower(), (path, s)
        if isinstance(value, dict | list):
            text = str(value)
            assert "PRIVATE" not in text
    # The walk saw the whole document, including the parts that are lists.
    assert {"offsets_retired[].serials", "products[].kgco2e_per_unit_market",
            "months[].scope1_t", "evidence_chain_head.sha256", "methodology[]"} <= seen  # fmt: skip


def test_disclosure_is_opt_in_read_only_and_refuses_without_its_key(
    example_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    for api in serve(example_db):
        r = api.client.get(f"{BASE}/disclosure.json")
        assert r.status_code == 503 and ENV in r.json()["detail"]
        assert api.client.get("/public/other/disclosure.json").status_code == 404
        assert api.client.post(f"{BASE}/disclosure.json").status_code == 405
        assert api.client.get(f"{BASE}/disclosure.json", params={"year": 1900}).status_code == 422
    fp = yaml.safe_load(data.PLANT.read_text(encoding="utf-8"))["footprint"]
    fp["disclosure"]["enabled"] = False
    fp["factor_files"] = [str(ROOT / "config" / f) for f in fp["factor_files"]]
    off = data.plant_variant(tmp_path / "off.yaml", footprint=fp)
    for api in serve(example_db, off):
        assert api.client.get(f"{BASE}/disclosure.json").status_code == 404
        assert api.client.get(BASE).status_code == 404


def test_self_evaluation_indicators_follow_the_account(api: Api) -> None:
    _retire(api)
    r = api.client.get("/v1/self-evaluation", params={"year": 2026}, headers=api.headers("viewer"))
    assert r.status_code == 200, r.text
    ind = {x["indicator"]: x for x in r.json()["indicators"]}
    with connect(api.db_url) as conn:
        row = conn.execute(
            "SELECT sum(grid_import_mwh), sum(covered_mwh), sum(generation_mwh),"
            " sum(grid_export_mwh), sum(scope1_t) + sum(scope2_market_t) FROM site_minute"
        ).fetchone()
    assert row is not None
    grid, covered, gen, export, gross = (float(x) for x in row)
    # Green share = (covered + generation - export) / (grid + generation - export).
    want = (covered + max(gen - export, 0)) / (grid + gen - export)
    assert ind["green"]["value"] == pytest.approx(want, rel=1e-9)
    assert ind["green"]["met"] is (want >= 1.0)
    assert ind["residual"]["value"] == pytest.approx(gross - 10, rel=1e-9)
    assert ind["offsets"]["value"] == {"CCER": 10.0}
    assert ind["offsets"]["share_of_gross"] == pytest.approx(10 / gross, rel=1e-9)
    assert ind["energy"]["value"] > 0 and ind["energy"]["unit"].startswith("tce")
    assert ind["disclosure"]["met"] is True
    assert set(ind["green"]["name"]) == {"zh", "en"}
