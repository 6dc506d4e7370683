"""In-memory fakes of the ports, for unit tests of pure logic (end-to-end tests use Azurite)."""

from __future__ import annotations

import copy
import datetime as dt
import io
import itertools
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO

from pipeline import redaction
from pipeline.ports import MAX_TRANSACTION, Condition, Conflict, Entity, Exchange, NotFound, Operation, Stale

_etags = itertools.count(1)


class MemoryBlobs:
    def __init__(self) -> None:
        self.blobs: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}
        self.created: dict[tuple[str, str], dt.datetime] = {}

    def put(
        self,
        container: str,
        path: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.blobs[(container, path)] = (bytes(data), dict(metadata or {}))
        self.created.setdefault((container, path), dt.datetime.now(dt.UTC))

    def get(self, container: str, path: str) -> bytes:
        try:
            return self.blobs[(container, path)][0]
        except KeyError:
            raise NotFound(f"{container}/{path}") from None

    def open(self, container: str, path: str) -> IO[bytes]:
        return io.BytesIO(self.get(container, path))

    def writer(self, container: str, path: str, *, content_type: str | None = None) -> MemoryBlobWriter:
        return MemoryBlobWriter(self, container, path)

    def metadata(self, container: str, path: str) -> dict[str, str]:
        self.get(container, path)
        return dict(self.blobs[(container, path)][1])

    def list(self, container: str, prefix: str = "") -> Iterator[str]:
        return iter(sorted(p for c, p in self.blobs if c == container and p.startswith(prefix)))

    def created_before(self, container: str, moment: dt.datetime, prefix: str = "") -> Iterator[str]:
        return iter([p for p in self.list(container, prefix) if self.created[(container, p)] < moment])

    def delete(self, container: str, path: str) -> None:
        self.blobs.pop((container, path), None)
        self.created.pop((container, path), None)


class MemoryBlobWriter:
    def __init__(self, blobs: MemoryBlobs, container: str, path: str) -> None:
        self.blobs, self.container, self.path = blobs, container, path
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self.buffer.write(data)

    def commit(self) -> None:
        self.blobs.put(self.container, self.path, self.buffer.getvalue())


# Table Storage's limits, which Azure and Azurite enforce: a fake that ignored them would let a unit test
# pass with a row the real service refuses (PropertyValueTooLarge, EntityTooLarge).
# https://learn.microsoft.com/en-us/rest/api/storageservices/understanding-the-table-service-data-model
MAX_PROPERTY_BYTES = 64 * 1024  # a string property is UTF-16: 32 K characters
MAX_ENTITY_BYTES = 1024 * 1024


def _check_size(entity: Entity) -> None:
    total = 0
    for key, value in entity.items():
        if key == "etag" or value is None:
            continue
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list, tuple)) else str(value)
        size = len(text.encode("utf-16-le"))
        if size > MAX_PROPERTY_BYTES:
            raise ValueError(f"PropertyValueTooLarge: {key} is {size} bytes; Table Storage holds at most "
                             f"{MAX_PROPERTY_BYTES} in one property")
        total += size + len(key) * 2
    if total > MAX_ENTITY_BYTES:
        raise ValueError(f"EntityTooLarge: {total} bytes; Table Storage holds at most {MAX_ENTITY_BYTES}")


class MemoryTables:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], Entity] = {}
        self._lock = threading.Lock()

    def _key(self, table: str, entity: Entity) -> tuple[str, str, str]:
        return (table, entity["PartitionKey"], entity["RowKey"])

    def insert(self, table: str, entity: Entity) -> str:
        with self._lock:
            key = self._key(table, entity)
            if key in self.rows:
                raise Conflict(f"{table}/{key[1]}/{key[2]}")
            _check_size(entity)
            etag = str(next(_etags))
            self.rows[key] = {**copy.deepcopy(entity), "etag": etag}
            return etag

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        found = self.rows.get((table, partition, row))
        return copy.deepcopy(found) if found else None

    def update(self, table: str, entity: Entity, *, etag: str) -> str:
        with self._lock:
            key = self._key(table, entity)
            current = self.rows.get(key)
            if current is None or current["etag"] != etag:
                raise Stale(f"{table}/{key[1]}/{key[2]}")
            _check_size(entity)
            new = str(next(_etags))
            self.rows[key] = {**{k: v for k, v in copy.deepcopy(entity).items() if k != "etag"}, "etag": new}
            return new

    def upsert(self, table: str, entity: Entity) -> None:
        _check_size(entity)
        with self._lock:
            clean = {k: v for k, v in copy.deepcopy(entity).items() if k != "etag"}
            self.rows[self._key(table, entity)] = {**clean, "etag": str(next(_etags))}

    def insert_many(self, table: str, entities: Sequence[Entity]) -> None:
        for entity in entities:
            self.upsert(table, entity)

    def transact(self, table: str, operations: Sequence[Operation]) -> None:
        """Checked whole before anything is applied, as the service does: all or nothing."""
        if not operations:
            return
        if len(operations) > MAX_TRANSACTION:
            raise ValueError(f"{len(operations)} operations: an entity-group transaction holds at most {MAX_TRANSACTION}")
        if len({e["PartitionKey"] for _, e in operations}) > 1:
            raise ValueError("an entity-group transaction is one partition's")
        with self._lock:
            keys = [self._key(table, e) for _, e in operations]
            if len(set(keys)) < len(keys):
                raise ValueError("an entity appears twice in one transaction")
            for index, ((kind, entity), key) in enumerate(zip(operations, keys, strict=True)):
                if kind == "create" and key in self.rows:
                    raise Conflict(f"{table}/{key[2]}", index=index)
                if kind in ("merge", "delete") and key not in self.rows:
                    raise Stale(f"{table}/{key[2]}", index=index)
                if kind != "delete":
                    merged = kind in ("merge", "insert-or-merge")
                    _check_size({**self.rows.get(key, {}), **entity} if merged else entity)
            for (kind, entity), key in zip(operations, keys, strict=True):
                clean = {k: v for k, v in copy.deepcopy(entity).items() if k != "etag"}
                if kind == "delete":
                    del self.rows[key]
                elif kind in ("merge", "insert-or-merge"):
                    self.rows[key] = {**self.rows.get(key, {}), **clean, "etag": str(next(_etags))}
                else:
                    self.rows[key] = {**clean, "etag": str(next(_etags))}

    def query(self, table: str, partition: str, row_prefix: str = "") -> list[Entity]:
        return [
            copy.deepcopy(e)
            for (t, p, r), e in sorted(self.rows.items())
            if t == table and p == partition and r.startswith(row_prefix)
        ]

    def scan(self, table: str, partition: str, *, after: str = "", below: str | None = None,
             where: Sequence[Condition] = (), limit: int = 100) -> list[Entity]:
        found: list[Entity] = []
        for (t, p, r), e in sorted(self.rows.items()):
            if t != table or p != partition or r <= after or (below is not None and r >= below):
                continue
            if all(_compare(e.get(name), op, value) for name, op, value in where):
                found.append(copy.deepcopy(e))
                if len(found) >= limit:
                    break
        return found

    def delete(self, table: str, partition: str, row: str, *, etag: str | None = None) -> None:
        with self._lock:
            if etag is not None and (self.rows.get((table, partition, row)) or {}).get("etag") != etag:
                raise Stale(f"{table}/{partition}/{row}")
            self.rows.pop((table, partition, row), None)

    def due(self, table: str, before: str, *, limit: int = 1000) -> list[Entity]:
        found = [copy.deepcopy(e) for (t, _, _), e in sorted(self.rows.items())
                 if t == table and str(e.get("Due", "")) <= before]
        return found[:limit]


def _compare(have: object, op: str, value: str) -> bool:
    """As the table service compares: a row without the property never matches."""
    if have is None:
        return False
    text = str(have)
    return {"eq": text == value, "ne": text != value, "ge": text >= value, "gt": text > value,
            "le": text <= value, "lt": text < value}[op]


class MemoryQueues:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []
        self.waiting: dict[str, dt.datetime] = {}  # queue → when its oldest visible message was sent

    def send(self, queue: str, message: str, *, delay_seconds: int = 0) -> None:
        self.sent.append((queue, message, delay_seconds))

    def oldest(self, queue: str) -> dt.datetime | None:
        return self.waiting.get(queue)


class MemorySecrets:
    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, name: str) -> str:
        try:
            value = self.values[name]
        except KeyError:
            raise NotFound(f"secret {name}") from None
        redaction.remember(value)  # as the real adapters do
        return value

    def set(self, name: str, value: str) -> None:
        redaction.remember(value)
        self.values[name] = value


class MemoryExchanges:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def record(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
