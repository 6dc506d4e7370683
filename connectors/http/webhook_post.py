"""How a webhook delivery goes over the wire: one POST, no redirects followed (a redirect could lead into a private
network past the check on the registered URL), a short timeout, the receiver's answer in a few hundred bytes."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from pipeline.webhook_events import Reply

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def post(url: str, headers: Mapping[str, str], body: bytes) -> Reply:
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
            response = client.post(url, content=body, headers=dict(headers))
    except httpx.HTTPError as exc:
        return Reply(None, error=f"{type(exc).__name__}: {exc}"[:300])
    return Reply(response.status_code, body=response.text[:300])
