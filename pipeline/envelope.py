"""Queue messages between stages: up to MAX_DOCUMENTS documents of one receipt, small ones carried inside.

A message — an envelope — names the tenant and the receipt its documents came in with, the W3C trace
context (so one trace continues across every queue hop) and its documents. A document travels inside the
envelope when its JSON is at most INLINE_CHARS characters (a voucher of a few lines is a few hundred); a
larger one stays in Blob Storage and the envelope carries where (a claim check). Envelopes are JSON; the
Functions host (and our local host) base64-encode them on the wire as host.json says.

Every envelope has an id: its row in the trace table says it is on its way until the stage that takes it
records what became of its documents (pipeline/inflight.py). Messages written before envelopes had ids
(version 1: one document, always a claim check) are still read.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

MAX_DOCUMENTS = 32  # documents in one envelope: its stage's trace rows then fit one entity-group transaction
INLINE_CHARS = 16_000  # a document's JSON up to this travels inside the envelope (and in its trace row)
# An envelope is kept whole in one string property of its trace row until it is taken: Table Storage holds
# 64 KiB of UTF-16 there (32,768 characters); the queue takes 64 KiB, which base64 makes 48 KiB of UTF-8.
MAX_MESSAGE_CHARS = 30_000
MAX_MESSAGE_BYTES = 48 * 1024


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


def new_message_id() -> str:
    return f"m-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class Enclosure:
    """One document in an envelope: inside it (`body`, the document's JSON as a dict) or where it lies (`blob`).

    Neither: the document's shared form is kept with its `translated` trace row (a retry, or a tenant that
    switched targets, sends a document back to adapt that way).
    """

    id: str
    reference: str | None = None
    attempt: int = 1  # how many times the document has been sent through this step (retries, replays)
    body: dict[str, Any] | None = None
    blob: str | None = None  # "<container>/<path>"

    def as_json(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict would copy the document's body, deeply, for nothing.
        out: dict[str, Any] = {"id": self.id}
        if self.reference is not None:
            out["reference"] = self.reference
        if self.attempt != 1:
            out["attempt"] = self.attempt
        if self.body is not None:
            out["body"] = self.body
        if self.blob is not None:
            out["blob"] = self.blob
        return out


@dataclass(frozen=True)
class Envelope:
    """What travels on a stage queue."""

    tenant: str
    receipt: str  # the receipt (one inbound request, file or pull) its documents came from
    traceparent: str
    documents: tuple[Enclosure, ...] = ()
    id: str | None = None  # None in messages from before envelopes had ids
    kind: str = "documents"  # "documents", or "file": a whole file to translate, not split yet
    blob: str | None = None  # a file's original, for kind "file"
    format: str | None = None  # a file's format, for kind "file" (None: detect it)
    target: str | None = None  # the accounting system the documents were adapted for
    to: str | None = None  # a resend's accounting system, when not the tenant's own (pipeline/resend.py)
    requeued: int | None = None  # set on the copies the sweeper sends when the original was lost
    v: int = 2

    @property
    def subjects(self) -> list[str]:
        """Whose trace rows this envelope's step writes: each document's, or a file's own (its receipt's)."""
        return [self.receipt] if self.kind == "file" else [d.id for d in self.documents]

    def to_json(self) -> str:
        data: dict[str, Any] = {f.name: value for f in fields(self)
                                if f.name != "documents" and (value := getattr(self, f.name)) is not None}
        if self.documents:
            data["documents"] = [d.as_json() for d in self.documents]
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(body) > MAX_MESSAGE_CHARS or len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise ValueError(f"queue message of {len(body)} characters is too large: pack fewer documents in it, "
                             "or keep large ones in Blob Storage")
        return body

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        data: dict[str, Any] = json.loads(text)
        if data.get("v") == 1:
            return _version_1(data)
        if data.get("v") != 2:
            raise ValueError(f"unknown envelope version {data.get('v')!r}")
        documents = tuple(Enclosure(**d) for d in data.pop("documents", ()))
        return cls(documents=documents, **data)

    def next(self, **changes: Any) -> Envelope:
        """The envelope for the next stage: a child span of the same trace, an id of its own."""
        return replace(self, traceparent=child_traceparent(self.traceparent), id=new_message_id(), requeued=None,
                       **changes)


def _version_1(data: dict[str, Any]) -> Envelope:
    """A message from before envelopes carried documents: one document (or file), a claim check, no id."""
    kind = data.get("kind", "document")
    common = {"tenant": data["tenant"], "receipt": data["receipt"], "traceparent": data["traceparent"],
              "target": data.get("target"), "requeued": data.get("requeued")}
    if kind == "file":
        return Envelope(kind="file", blob=data["blob"], format=data.get("format"), **common)
    return Envelope(documents=(Enclosure(id=data["document"], attempt=int(data.get("attempt", 1)),
                                         blob=data["blob"]),), **common)


@dataclass
class Packer:
    """Enclosures packed into as few envelopes as MAX_DOCUMENTS and the message size allow, in order."""

    template: Envelope
    ids: Iterator[str] | None = None  # ids for the envelopes (deterministic for a file's parts); default new
    _open: list[Enclosure] = field(default_factory=list)
    _chars: int = 0
    _bytes: int = 0

    # What an envelope's own fields take besides its documents (ids, trace context, names), with room to spare.
    OVERHEAD = 1_000

    def add(self, enclosure: Enclosure) -> Envelope | None:
        """Add one; returns the envelope it filled up, if it did (the enclosure then starts the next one)."""
        text = json.dumps(enclosure.as_json(), ensure_ascii=False, separators=(",", ":"))
        chars, size = len(text) + 1, len(text.encode("utf-8")) + 1
        full: Envelope | None = None
        if self._open and (len(self._open) >= MAX_DOCUMENTS or self._chars + chars + self.OVERHEAD > MAX_MESSAGE_CHARS
                           or self._bytes + size + self.OVERHEAD > MAX_MESSAGE_BYTES):
            full = self.close()
        self._open.append(enclosure)
        self._chars += chars
        self._bytes += size
        return full

    def close(self) -> Envelope | None:
        """The envelope being filled, if it holds anything."""
        if not self._open:
            return None
        envelope = self.template.next(documents=tuple(self._open))
        if self.ids is not None:
            envelope = replace(envelope, id=next(self.ids))
        self._open, self._chars, self._bytes = [], 0, 0
        return envelope


def pack(template: Envelope, enclosures: Iterable[Enclosure]) -> list[Envelope]:
    """Every enclosure in envelopes like `template` (each a child span of its trace, with an id of its own)."""
    packer = Packer(template)
    out = [full for e in enclosures if (full := packer.add(e)) is not None]
    last = packer.close()
    return out + ([last] if last is not None else [])
