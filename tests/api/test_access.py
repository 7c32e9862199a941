"""Health, readiness, API keys and roles, and problem details, against a real database."""

from __future__ import annotations

import pytest

from carbonstream.cli import main
from carbonstream.store import keys
from carbonstream.store.db import connect
from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def test_health_needs_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    r = api.client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_no_key_is_401_problem(api: Api) -> None:
    r = api.client.get("/v1/me")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == 401 and body["instance"] == "/v1/me"
    assert "X-API-Key" in body["detail"]
    assert r.headers["www-authenticate"] == "ApiKey"


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        ("nonsense", "malformed"),
        ("cs_0123456789ab_" + "x" * 43, "unknown or revoked"),
    ],
)
def test_bad_keys_are_refused(api: Api, token: str, detail: str) -> None:
    r = api.client.get("/v1/me", headers={"X-API-Key": token})
    assert r.status_code == 401 and detail in r.json()["detail"]


def test_valid_key_and_bearer(api: Api) -> None:
    r = api.client.get("/v1/me", headers=api.headers("viewer"))
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    bearer = {"Authorization": f"Bearer {api.tokens['admin']}"}
    assert api.client.get("/v1/me", headers=bearer).json()["role"] == "admin"


def test_wrong_secret_for_a_real_id_is_refused(api: Api) -> None:
    key_id = keys.parse_token(api.tokens["admin"])[0]  # type: ignore[index]
    r = api.client.get("/v1/me", headers={"X-API-Key": f"cs_{key_id}_{'y' * 43}"})
    assert r.status_code == 401


def test_revoked_key_is_refused(api: Api) -> None:
    token = api.tokens["operator"]
    key_id = keys.parse_token(token)[0]  # type: ignore[index]
    assert api.client.get("/v1/me", headers={"X-API-Key": token}).status_code == 200
    with connect(api.db_url) as conn:
        assert keys.revoke(conn, key_id)
        assert not keys.revoke(conn, key_id)
    assert api.client.get("/v1/me", headers={"X-API-Key": token}).status_code == 401


def test_unknown_path_is_a_problem(api: Api) -> None:
    r = api.client.get("/v1/nothing-here", headers=api.headers("viewer"))
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_only_hashes_are_stored(api: Api) -> None:
    with connect(api.db_url) as conn:
        stored = [r[0] for r in conn.execute("SELECT secret_sha256 FROM api_keys")]
    for token in api.tokens.values():
        secret = keys.parse_token(token)[1]  # type: ignore[index]
        assert secret not in stored and keys.digest(secret) in stored


def test_keys_cli(migrated_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["keys", "create", "--name", "grafana", "--role", "viewer", "--db-url", migrated_db])
        == 0
    )
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    key_id = keys.parse_token(token)[0]  # type: ignore[index]
    assert main(["keys", "list", "--db-url", migrated_db]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "active" in listed and token not in listed
    assert main(["keys", "revoke", key_id, "--db-url", migrated_db]) == 0
    assert main(["keys", "revoke", key_id, "--db-url", migrated_db]) == 1
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "create", "--name", "x", "--role", "root", "--db-url", migrated_db])
    assert exit_.value.code == 2
