"""Webhook delivery: JSON, signed with HMAC-SHA256, retried with capped backoff.

Signature header (Stripe-style, so receivers can reject replays):

    X-Carbonstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

Retried on connection errors, timeouts, 429 and 5xx; a 4xx other than 429 is
a receiver-side configuration problem and is not retried (logged once).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from carbonstream.alerts.rules import Webhook
from carbonstream.envsecret import env_secret
from carbonstream.errors import ConfigError

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Carbonstream-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, tolerance_s: float = 300.0) -> bool:
    """For receivers (and tests): check a signature header and its freshness."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - ts) > tolerance_s:
        return False
    expected = sign(secret, body, ts)
    return hmac.compare_digest(expected, header)


@dataclass(frozen=True)
class Delivery:
    webhook: str
    ok: bool
    attempts: int
    status: int | None
    error: str | None


async def deliver(
    hook: Webhook, payload: dict[str, Any], client: httpx.AsyncClient | None = None
) -> Delivery:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    secret: str | None = None
    if hook.secret_env:
        # Checked at load (rules.bind); read again here, so a variable emptied since then
        # fails the delivery with the reason instead of sending it unsigned.
        try:
            secret = env_secret("secret_env", hook.secret_env, source=f"webhook {hook.id!r}")
        except ConfigError as e:
            return Delivery(hook.id, False, 0, None, "; ".join(e.problems))
    own = client is None
    client = client or httpx.AsyncClient()
    delay = hook.backoff_s
    status: int | None = None
    error: str | None = None
    try:
        for attempt in range(1, hook.max_attempts + 1):
            headers = {"Content-Type": "application/json", "User-Agent": "carbonstream-alerts"}
            if secret is not None:
                headers[SIGNATURE_HEADER] = sign(secret, body, int(time.time()))
            try:
                r = await client.post(
                    hook.url, content=body, headers=headers, timeout=hook.timeout_s
                )
                status, error = r.status_code, None
                if r.status_code < 300:
                    return Delivery(hook.id, True, attempt, status, None)
                if r.status_code < 500 and r.status_code != 429:
                    log.warning("webhook %s refused the alert: HTTP %s", hook.id, r.status_code)
                    return Delivery(hook.id, False, attempt, status, f"HTTP {r.status_code}")
                error = f"HTTP {r.status_code}"
            except httpx.HTTPError as e:
                status, error = None, f"{type(e).__name__}: {e}"
            if attempt < hook.max_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, hook.max_backoff_s)
        log.warning("webhook %s failed after %d attempts: %s", hook.id, hook.max_attempts, error)
        return Delivery(hook.id, False, hook.max_attempts, status, error)
    finally:
        if own:
            await client.aclose()
