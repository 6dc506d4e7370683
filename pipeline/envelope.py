"""Queue messages between stages: a claim check, never the payload.

A message names the tenant, the document, where its content lies in Blob Storage, the attempt and
the W3C trace context, so that one trace continues across every queue hop. It is JSON; the
Functions host (and our local host) base64-encode it on the wire as host.json says.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

MAX_MESSAGE_BYTES = 48 * 1024  # 64 KiB queue limit less base64's 4/3 growth


def new_traceparent() -> str:
    """A fresh W3C traceparent: version 00, random trace and span ids, sampled."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str) -> str:
    """Same trace, new span: what a stage passes on to the next queue."""
    parts = parent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32:
        return new_traceparent()
    return f"00-{parts[1]}-{secrets.token_hex(8)}-{parts[3]}"


def trace_id(traceparent: str) -> str:
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else ""


@dataclass(frozen=True)
class Envelope:
    """What travels on a stage queue."""

    tenant: str
    document: str  # document id (for a file not yet split: the receipt id)
    receipt: str  # the receipt (one inbound request or file) the document came from
    blob: str  # "<container>/<path>" of the content this stage reads
    traceparent: str
    kind: str = "document"  # "document" or "file" (a whole file to translate)
    format: str | None = None  # source format, for kind == "file"
    target: str | None = None  # target name, once adapted
    attempt: int = 1  # how many times the document has been sent through this step (retries, replays)
    # The number of the hand-off that sent this message (pipeline/inflight.py): a message whose hop is
    # below the document's current one is a stale copy. None in messages from before hops existed.
    hop: int | None = None
    requeued: int | None = None  # set on the copies the sweeper sends when the original was lost
    v: int = 1

    def to_json(self) -> str:
        body = json.dumps({k: v for k, v in asdict(self).items() if v is not None}, separators=(",", ":"))
        if len(body.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError("queue message too large: envelopes carry references, not payloads")
        return body

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        data: dict[str, Any] = json.loads(text)
        if data.get("v") != 1:
            raise ValueError(f"unknown envelope version {data.get('v')!r}")
        return cls(**data)

    def next(self, **changes: Any) -> Envelope:
        """The message for the next stage: same document, a child span of the same trace."""
        return replace(self, traceparent=child_traceparent(self.traceparent), **changes)
