"""Webhook delivery against a real HTTP server on loopback: signing, retries, refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from carbonstream.alerts.notify import SIGNATURE_HEADER, deliver, verify
from carbonstream.alerts.rules import Webhook


class Receiver:
    def __init__(self, responses: list[int]) -> None:
        self.responses = responses
        self.calls: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((body, self.headers.get(SIGNATURE_HEADER)))
                code = receiver.responses.pop(0) if receiver.responses else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.server.shutdown()


async def test_signed_and_retried_until_accepted(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    receiver.responses = [500, 503]
    hook = Webhook(id="ops", url=receiver.url, secret_env="HOOK_SECRET", backoff_s=0.05)
    d = await deliver(hook, {"rule": "r", "status": "firing"})
    assert d.ok and d.attempts == 3
    assert len(receiver.calls) == 3
    body, sig = receiver.calls[-1]
    assert sig is not None and verify("s3cret", body, sig)
    assert not verify("wrong", body, sig)
    assert not verify("s3cret", body + b" ", sig)


async def test_client_error_is_not_retried(receiver: Receiver) -> None:
    receiver.responses = [404]
    d = await deliver(Webhook(id="ops", url=receiver.url, backoff_s=0.05), {"x": 1})
    assert not d.ok and d.attempts == 1 and d.status == 404


async def test_gives_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.responses = [500] * 10
    hook = Webhook(id="ops", url=receiver.url, backoff_s=0.01, max_attempts=3)
    d = await deliver(hook, {"x": 1})
    assert not d.ok and d.attempts == 3 and len(receiver.calls) == 3


async def test_unreachable_receiver_is_retried() -> None:
    hook = Webhook(id="ops", url="http://127.0.0.1:9/", backoff_s=0.01, max_attempts=2)
    d = await deliver(hook, {"x": 1})
    assert not d.ok and d.attempts == 2 and d.error is not None


async def test_missing_secret_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    d = await deliver(Webhook(id="ops", url="http://127.0.0.1:9/", secret_env="NOPE_SECRET"), {})
    assert not d.ok and "NOPE_SECRET" in (d.error or "")


async def test_a_secret_emptied_after_load_fails_the_delivery_unsent(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "")
    hook = Webhook(id="ops", url=receiver.url, secret_env="HOOK_SECRET", backoff_s=0.01)
    d = await deliver(hook, {"x": 1})
    assert not d.ok and d.attempts == 0 and receiver.calls == []
    assert d.error == "secret_env: environment variable HOOK_SECRET is empty: " + (
        "set it, or remove secret_env"
    )
