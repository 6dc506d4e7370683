"""Idempotency-Key: a vendor that retries a POST it never saw answered gets the first answer, not a second intake.

A key is claimed in Table Storage with an insert (only one concurrent request can win it) together with a
fingerprint of what was asked (route, query, content type, body). While the first request runs, others with the
key are told so (409, Retry-After); once it has answered, the answer is kept (a blob, since it may be larger than a
table property) and replayed for 24 hours; the same key with another request is a 409. Keys are per tenant.

This guards one request against being taken in twice. It is not what stops double posting: a document's
reference, checked in the ledger at delivery, stays the lasting guard (pipeline/ledger.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.names import CONTAINER_DOCUMENTS, TABLE_IDEMPOTENCY
from pipeline.ports import BlobStore, Conflict, NotFound, Stale, TableStore

HEADER = "idempotency-key"
WINDOW = dt.timedelta(hours=24)
# A claim whose request never answered (its host died mid-request) may be taken again after this: the
# documents it may have taken in are still guarded by their references.
ABANDONED = dt.timedelta(minutes=10)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as kept for replay."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """Why this key cannot be used for this request now (the caller turns it into an error answer)."""

    status: int
    message: str
    retry_after: int | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def key_problem(key: str) -> str | None:
    """What is wrong with a client's key, or None: 1 to 255 visible ASCII characters (a UUID is a good key)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters; a UUID is a good key"
    if any(not 0x21 <= ord(c) <= 0x7E for c in key):
        return "Idempotency-Key may hold only visible ASCII characters (no spaces); a UUID is a good key"
    return None


def fingerprint(route: str, query: Mapping[str, str], content_type: str, body: bytes) -> str:
    """What "the same request" means: same route, query, content type and bytes of body."""
    digest = hashlib.sha256()
    head = json.dumps([route, sorted(query.items()), content_type.split(";")[0].strip().lower()])
    digest.update(head.encode("utf-8"))
    digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyKeys:
    """The kept claims and answers of one tenant's keys."""

    def __init__(self, tables: TableStore, blobs: BlobStore, *, now: Callable[[], dt.datetime] = _now) -> None:
        self.tables, self.blobs, self.now = tables, blobs, now

    def answer(self, tenant: str, key: str, print_: str, handle: Callable[[], Answer]) -> tuple[Answer | Refused, bool]:
        """The answer for this request: `handle()`'s (run at most once per key) or the kept one. The flag is
        True when the answer is a replay."""
        claim = self._claim(tenant, key, print_)
        if not isinstance(claim, str):
            return claim, isinstance(claim, Answer)
        try:
            answer = handle()
        except BaseException:
            self._release(tenant, key, claim)
            raise
        if answer.status >= 500:  # not an answer to this request but a failure: let a retry run it
            self._release(tenant, key, claim)
        else:
            self._keep(tenant, key, claim, answer)
        return answer, False

    def _row(self, key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()  # a client's key may hold '/', '#', '?'

    def _claim(self, tenant: str, key: str, print_: str) -> str | Answer | Refused:
        """A new claim id when this request is to be run; else the kept answer or why not."""
        row = self._row(key)
        for _ in range(5):
            claim = secrets.token_hex(8)
            entity = {"PartitionKey": tenant, "RowKey": row, "Fingerprint": print_, "State": "running",
                      "Claim": claim, "At": self.now().isoformat()}
            try:
                self.tables.insert(TABLE_IDEMPOTENCY, entity)
                return claim
            except Conflict:
                pass
            found = self.tables.get(TABLE_IDEMPOTENCY, tenant, row)
            if found is None:
                continue  # released meanwhile: try to claim it again
            age = self.now() - dt.datetime.fromisoformat(str(found["At"]))
            stale = age >= WINDOW or (found["State"] == "running" and age >= ABANDONED)
            if stale:
                try:
                    self.tables.update(TABLE_IDEMPOTENCY, entity, etag=str(found["etag"]))
                    return claim
                except Stale:
                    continue
            if found["Fingerprint"] != print_:
                return Refused(409, "this Idempotency-Key was used for another request (a different body, route "
                                    "or query) in the last 24 hours; use a new key for a new request")
            if found["State"] == "running":
                return Refused(409, "a request with this Idempotency-Key is still being answered; ask again "
                                    "shortly to get its answer", retry_after=1)
            try:
                kept = json.loads(self.blobs.get(CONTAINER_DOCUMENTS, str(found["Answer"])))
            except NotFound:
                continue
            return Answer(int(kept["status"]), kept["body"], dict(kept["headers"]))
        return Refused(409, "this Idempotency-Key is contended by concurrent requests; ask again shortly",
                       retry_after=1)

    def _keep(self, tenant: str, key: str, claim: str, answer: Answer) -> None:
        path = f"{tenant}/idempotency/{claim}.json"
        kept = {"status": answer.status, "body": answer.body, "headers": answer.headers}
        self.blobs.put(CONTAINER_DOCUMENTS, path, json.dumps(kept, ensure_ascii=False).encode("utf-8"),
                       content_type="application/json")
        found = self.tables.get(TABLE_IDEMPOTENCY, tenant, self._row(key))
        if found is None or found["Claim"] != claim:
            return  # taken over as abandoned meanwhile: the newer claim's answer stands
        try:
            self.tables.update(TABLE_IDEMPOTENCY, {**found, "State": "answered", "Answer": path},
                               etag=str(found["etag"]))
        except Stale:
            pass

    def _release(self, tenant: str, key: str, claim: str) -> None:
        found = self.tables.get(TABLE_IDEMPOTENCY, tenant, self._row(key))
        if found is not None and found["Claim"] == claim:
            self.tables.delete(TABLE_IDEMPOTENCY, tenant, self._row(key))
