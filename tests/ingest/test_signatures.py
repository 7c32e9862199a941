"""Signed batches through a real Mosquitto and PostgreSQL.

Every attack on a batch's provenance is dead-lettered with its reason and counted,
while the genuine readings of the same minutes are stored (naming their signed
batch) and counted in the account. Then the whole chain: the example plant's
readings signed by a gateway key, ingested, sealed, exported and verified; one
stored reading changed afterwards is named by `carbonstream verify`, and the same
reading re-signed with another gateway's key is refused at ingest.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carbonstream.cli import main
from carbonstream.config.loader import load_plant
from carbonstream.ingest.settings import IngestSettings
from carbonstream.store.queries.inventory import READING_COUNTS_SQL
from carbonstream.transport import signing
from carbonstream.transport.payload import (
    Reading,
    ReadingsMessage,
    decode_readings,
    encode_readings,
)
from tests.ingest import helpers as h
from tests.ingest import signed as s
from tests.services import unique

# slow: ingests signed batches through Mosquitto (make test-fast leaves it to CI)
pytestmark = pytest.mark.slow

UTC = dt.UTC
T0 = 1_795_305_000_000  # 2026-11-22T... UTC, inside the example plant's period (ms)
REFUSALS = "carbonstream_ingest_signature_refusals_total"


def _msg(
    gw: str, seq: int, readings: list[tuple[int, float]], meter: str = "assembly-grid"
) -> ReadingsMessage:
    rs = [Reading(m=meter, t=t, v=v, u="kWh") for t, v in readings]
    return ReadingsMessage(v=1, gateway=gw, stream="s1", seq=seq, readings=rs)


def _settings(
    url: str, gateways: list[str], v1_for: list[str], unsigned_ok: list[str] | None = None
) -> IngestSettings:
    topics = [f"carbonstream/v2/+/{g}/readings" for g in gateways]
    topics += [f"carbonstream/v1/+/{g}/readings" for g in v1_for]
    return h.settings(
        url,
        v1_for[0],
        mqtt={"topics": topics},
        # production (the default), with one gateway still allowed unsigned input
        signatures={"required": True, "unsigned_gateways": unsigned_ok or []},
        gateway_binding="required",  # production: the plant's (per-test) gateways
    )


def test_forged_batches_are_dead_lettered_and_genuine_readings_counted(db_url: str) -> None:
    ga, gc, gu = unique("gw-a"), unique("gw-c"), unique("gw-u")
    key_a, key_a_old, key_b, key_c, key_u = (Ed25519PrivateKey.generate() for _ in range(5))
    june = dt.datetime(2026, 6, 1, tzinfo=UTC)
    other = unique("gw-other")
    plant = s.bound(
        load_plant(h.PLANT_FILE),
        [
            # rotated in June: the old key signs source times before June only
            s.gateway(
                ga,
                "assembly",
                ["assembly-grid"],
                s.registered(key_a_old, valid_to=june),
                s.registered(key_a, valid_from=june),
            ),
            s.gateway(other, "foundry", ["foundry-grid"], s.registered(key_b)),
            # compromised: refused for anything arriving after 1 December
            s.gateway(
                gc,
                "assembly",
                ["assembly-pv"],
                s.registered(key_c, revoked_at=dt.datetime(2026, 12, 1, tzinfo=UTC)),
            ),
            # no key yet: its unsigned batches accepted by configuration, marked unsigned
            s.gateway(gu, "assembly", ["assembly-export"]),
        ],
    )
    topic_a = f"carbonstream/v2/assembly/{ga}/readings"
    m = 60_000
    seq1 = s.body(_msg(ga, 1, [(T0, 1000.0), (T0 + m, 1000.1)]))
    seq2 = s.body(_msg(ga, 2, [(T0 + 2 * m, 1000.2)]))
    seq3 = s.body(_msg(ga, 3, [(T0 + 3 * m, 1000.3)]))
    seq4 = s.body(_msg(ga, 4, [(T0 + 4 * m, 1000.4)]))
    genuine1 = s.sign(key_a, seq1)
    tampered = s.sign(key_a, seq3).replace(b'"v":1000.3', b'"v":1000.9')
    replay_changed = genuine1.replace(b'"v":1000.1', b'"v":2999.0')
    assert tampered != s.sign(key_a, seq3) and replay_changed != genuine1
    unsigned = encode_readings(_msg(ga, 5, [(T0 + 5 * m, 1000.5)]))
    messages = [
        (topic_a, genuine1),
        (topic_a, s.sign(key_a, seq2)),
        (topic_a, tampered),  # a value changed after signing
        (topic_a, replay_changed),  # seq 1 again, one value changed
        (topic_a, genuine1),  # exact replay: a duplicate, as any redelivery
        (topic_a, s.forge(key_a, key_b, seq4)),  # names gw-a's key, signed with another
        (topic_a, s.sign(key_b, seq4)),  # gw-a's batch signed with gw-other's key
        (topic_a, s.sign(key_u, seq4)),  # a key nobody registered
        (topic_a, s.sign(key_a_old, seq4)),  # the rotated-out key, for a November time
        (
            f"carbonstream/v2/assembly/{gc}/readings",
            s.sign(key_c, s.body(_msg(gc, 1, [(T0 + 4 * m, 10.4)], "assembly-pv"))),
        ),
        (f"carbonstream/v1/assembly/{ga}/readings", unsigned),  # no signature at all
        (
            f"carbonstream/v1/assembly/{gu}/readings",
            encode_readings(_msg(gu, 1, [(T0, 5.0), (T0 + m, 5.5)], "assembly-export")),
        ),
    ]
    run = h.Running(_settings(db_url, [ga, gc], [ga, gu], [gu]), db_url, plant)
    try:
        h.publish(messages)
        h.wait_until(
            lambda: run.service.totals.messages >= len(messages), 30, "every message handled"
        )
    finally:
        run.stop()
    t = run.service.totals
    assert (t.stored, t.duplicates, t.dead_letters) == (5, 2, 8)

    reg = run.service.metrics.registry
    counted = {
        r: reg.get_sample_value(REFUSALS, {"reason": r}) or 0.0
        for r in (
            "bad_signature",
            "foreign_key",
            "unknown_key",
            "revoked",
            "key_not_valid",
            "unsigned",
        )
    }
    assert counted == {
        "bad_signature": 3.0,  # tampered, replay with a changed value, wrongly keyed
        "foreign_key": 1.0,
        "unknown_key": 1.0,
        "revoked": 1.0,
        "key_not_valid": 1.0,
        "unsigned": 1.0,
    }

    with psycopg.connect(db_url) as c:
        reasons = [str(r[0]) for r in c.execute("SELECT reason FROM dead_letters").fetchall()]
        stored = c.execute(
            "SELECT (extract(epoch FROM r.ts) * 1000)::int8, r.value, b.body, b.signature, b.kid"
            " FROM readings r JOIN batches b ON b.id = r.batch ORDER BY r.ts"
        ).fetchall()
        unsigned_rows = c.execute(
            "SELECT count(*) FROM readings r JOIN meters m ON m.key = r.meter"
            " WHERE r.batch IS NULL AND m.id = 'assembly-export'"
        ).fetchone()
        grid_mwh = c.execute(
            "SELECT sum(grid_import_mwh) FROM site_minute x JOIN sites s ON s.key = x.site"
            " WHERE s.id = 'assembly'"
        ).fetchone()
    assert len(reasons) == 8
    assert unsigned_rows == (2,)
    joined = "\n".join(reasons)
    assert joined.count("(bad_signature): the signature does not verify") == 3
    assert f"a batch of gateway {ga!r} signed with key" in joined
    assert f"of gateway {other!r}" in joined
    assert f"key {signing.key_id(key_u.public_key())} is not registered" in joined
    assert f"of gateway {gc!r} was revoked at 2026-12-01" in joined
    assert "outside the validity of key" in joined
    assert f"unsigned v1 batch from gateway {ga!r}: signatures are required" in joined

    # The genuine readings, each naming the exact bytes gw-a signed, whose signature holds.
    assert [(int(r[0]), float(r[1])) for r in stored] == [
        (T0, 1000.0),
        (T0 + m, 1000.1),
        (T0 + 2 * m, 1000.2),
    ]
    kid_a = signing.key_id(key_a.public_key())
    for _, _, body, sig, kid in stored:
        assert kid == kid_a
        assert signing.verifies(key_a.public_key(), bytes(sig), bytes(body))
    assert bytes(stored[0][2]) == seq1 and bytes(stored[2][2]) == seq2
    # The unsigned mark reaches the inventory's data quality: per meter, readings and
    # how many came unsigned (gw-u's 2 readings; gw-a's 3 are signed).
    with psycopg.connect(db_url) as c:
        counts = c.execute(
            READING_COUNTS_SQL,
            {
                "sites": [r[0] for r in c.execute("SELECT key FROM sites").fetchall()],
                "start": dt.datetime(2026, 11, 1, tzinfo=UTC),
                "end": dt.datetime(2026, 12, 1, tzinfo=UTC),
            },
        ).fetchall()
    assert sorted((str(r[0]), int(r[1]), int(r[2])) for r in counts) == [
        ("assembly-export", 2, 2),
        ("assembly-grid", 3, 0),
    ]
    # Counted in the account: (1000.2 - 1000.0) kWh on the register x 80 (CT 400/5)
    # = 16 kWh = 0.016 MWh. The forged 1000.9, 2999.0 and 1000.4 would have changed it.
    assert grid_mwh is not None and grid_mwh[0] == pytest.approx(0.016, rel=1e-9)


def test_gateway_to_verify_chain_names_a_tampered_reading(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gw, other = unique("gw-assembly"), unique("gw-foundry")
    key, other_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    base = load_plant(h.PLANT_FILE)
    plant = s.bound(
        base,
        [
            s.gateway(g, site, meters, s.registered(k))
            for g, site, k in ((gw, "assembly", key), (other, "foundry", other_key))
            for meters in [[m.id for m in base.meters if m.site == site]]
        ],
    )
    ex = h.example()
    # The example plant's readings, each site's from its own gateway, signed with its key.
    v1 = {g: s.site_payloads(ex, g, site) for g, site in ((gw, "assembly"), (other, "foundry"))}
    msgs = [*s.signed_payloads(v1[gw], key), *s.signed_payloads(v1[other], other_key)]
    # One genuine gw-assembly batch re-signed with gw-foundry's key (value unchanged).
    resigned = s.sign(other_key, s.body(decode_readings(v1[gw][0][1])))
    run = h.Running(_settings(db_url, [gw, other], [gw]), db_url, plant)
    try:
        h.publish([*msgs, (msgs[0][0], resigned)])
        h.wait_until(
            lambda: run.service.totals.messages >= len(msgs) + 1, 60, "every message handled"
        )
    finally:
        run.stop()
    assert run.service.totals.dead_letters == 1
    with psycopg.connect(db_url) as c:
        reason = c.execute("SELECT reason FROM dead_letters").fetchone()
        unsigned = c.execute("SELECT count(*) FROM readings WHERE batch IS NULL").fetchone()
    assert reason is not None and "(foreign_key)" in reason[0] and other in reason[0]
    assert run.service.totals.stored == len(ex.batch)
    assert unsigned == (0,)

    ev = ["--from", "2026-11-22", "--to", "2026-11-24"]
    assert main(["seal", "--db-url", db_url, "--until", "2026-11-25"]) == 0
    assert main(["export-evidence", "--db-url", db_url, *ev, "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main(["verify", "--require-signed", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "signed readings against the bytes their gateway signed" in out
    assert "verified: every check passed" in out

    with psycopg.connect(db_url) as c:
        row = c.execute(
            "SELECT r.meter, r.ts, r.value FROM readings r JOIN meters m ON m.key = r.meter"
            " WHERE m.id = 'foundry-gas' AND r.ts > '2026-11-23T10:00:00+08:00'"
            " AND r.quality = 0 ORDER BY r.ts LIMIT 1"
        ).fetchone()
        assert row is not None
        c.execute(
            "UPDATE readings SET value = %s WHERE meter = %s AND ts = %s",
            (row[2] * 0.9, row[0], row[1]),
        )
    assert main(["export-evidence", "--db-url", db_url, *ev, "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out
    when = row[1].astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert (
        f"PROBLEM: reading foundry-gas at {when}: stored value {row[2] * 0.9!r} (quality 0), "
        f"but gateway {other!r} signed {row[2]!r} (quality 0)"
    ) in out
