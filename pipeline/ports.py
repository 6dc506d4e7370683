"""The ports: the small Protocols through which the pipeline reaches storage, secrets and targets.

Each has one real adapter (Azure SDK, in connectors/storage and connectors/secrets) and one
in-memory fake (pipeline/memory.py) for unit tests of pure logic. Connectors for accounting systems
implement `Target`; file formats implement `Source`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal, Protocol, runtime_checkable

from pipeline.errors import ConfigError, Problem
from pipeline.lookups import Lookups
from pipeline.model import Document

Entity = dict[str, Any]
"""A Table Storage entity: PartitionKey, RowKey, properties; `etag` when read back."""

Operation = tuple[Literal["upsert", "create", "merge", "delete", "insert-or-merge"], Entity]
"""One operation of an entity-group transaction (`TableStore.transact`)."""
Condition = tuple[str, Literal["eq", "ne", "ge", "gt", "le", "lt"], str]
"""A comparison of a property with a text value, evaluated by the table service (`TableStore.scan`)."""
MAX_TRANSACTION = 100  # operations in one entity-group transaction


class Conflict(Exception):
    """The entity already exists (insert) — someone else claimed it first.

    From `TableStore.transact`, `index` is the operation that failed (nothing of the transaction was applied).
    """

    def __init__(self, message: str = "", *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class Stale(Exception):
    """The entity changed since it was read (ETag mismatch), or is gone — re-read and decide again.

    From `TableStore.transact`, `index` is the operation that failed (nothing of the transaction was applied).
    """

    def __init__(self, message: str = "", *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class NotFound(Exception):
    """No such blob or entity."""


class BlobWriter(Protocol):
    """A blob written piece by piece, never whole in memory; nothing of it is visible until `commit`."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None: ...


class BlobStore(Protocol):
    def put(
        self,
        container: str,
        path: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None: ...

    def get(self, container: str, path: str) -> bytes: ...

    def open(self, container: str, path: str) -> IO[bytes]:
        """A streaming reader, so a 100 MB file never sits whole in memory."""
        ...

    def writer(self, container: str, path: str, *, content_type: str | None = None) -> BlobWriter:
        """For content produced as it streams (a file's report): replaces the blob on commit."""
        ...

    def metadata(self, container: str, path: str) -> dict[str, str]: ...

    def list(self, container: str, prefix: str = "") -> Iterator[str]: ...

    def created_before(self, container: str, moment: dt.datetime, prefix: str = "") -> Iterator[str]:
        """Names of the blobs created before `moment` (what a lifecycle rule's `daysAfterCreationGreaterThan` sees)."""
        ...

    def delete(self, container: str, path: str) -> None:
        """Remove; a blob that is not there is no error."""
        ...


class TableStore(Protocol):
    def insert(self, table: str, entity: Entity) -> str:
        """Create; raises Conflict if (PartitionKey, RowKey) exists. Returns the ETag."""
        ...

    def get(self, table: str, partition: str, row: str) -> Entity | None: ...

    def update(self, table: str, entity: Entity, *, etag: str) -> str:
        """Replace only if unchanged since read; raises Stale otherwise. Returns the new ETag."""
        ...

    def upsert(self, table: str, entity: Entity) -> None: ...

    def insert_many(self, table: str, entities: Sequence[Entity]) -> None:
        """Insert or replace, in transactions of up to 100 per partition."""
        ...

    def transact(self, table: str, operations: Sequence[Operation]) -> None:
        """All or nothing, in one request (an entity-group transaction): at most MAX_TRANSACTION operations on
        entities of one partition, each entity once.

        `upsert` inserts or replaces; `create` inserts and raises Conflict if the entity exists; `merge` sets the
        given properties of an existing entity and `delete` removes one, both raising Stale when it is gone;
        `insert-or-merge` sets the given properties, creating the entity when it is not there.
        https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions
        """
        ...

    def query(self, table: str, partition: str, row_prefix: str = "") -> list[Entity]: ...

    def scan(self, table: str, partition: str, *, after: str = "", below: str | None = None,
             where: Sequence[Condition] = (), limit: int = 100) -> list[Entity]:
        """Up to `limit` entities of one partition with `after` < RowKey < `below`, in RowKey order, that meet
        every condition (compared by the service, so rows that do not are never sent back)."""
        ...

    def delete(self, table: str, partition: str, row: str, *, etag: str | None = None) -> None:
        """Remove; an entity that is not there is no error. With `etag`: only if unchanged since read, else Stale."""
        ...

    def due(self, table: str, before: str, *, limit: int = 1000) -> list[Entity]:
        """Entities of any partition whose `Due` (ISO-8601 UTC text) is at or before `before`.

        A scan of the whole table: only for small index tables (TABLE_INFLIGHT).
        """
        ...


class QueueSender(Protocol):
    """For messages outside an output binding: delayed retries and re-drives."""

    def send(self, queue: str, message: str, *, delay_seconds: int = 0) -> None: ...

    def oldest(self, queue: str) -> dt.datetime | None:
        """When the oldest message now visible in `queue` was sent (a peek); None when none is visible."""
        ...


class SecretStore(Protocol):
    """Key Vault in Azure; a local stand-in in development. Values never reach logs or traces."""

    def get(self, name: str) -> str: ...

    def set(self, name: str, value: str) -> None: ...


@dataclass(frozen=True)
class Exchange:
    """One HTTP request to a target and its response, kept 90 days for audit and replay."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int | None
    response_headers: dict[str, str]
    response_body: bytes
    elapsed_ms: float
    at: dt.datetime
    error: str | None = None


class ExchangeLog(Protocol):
    def record(self, exchange: Exchange) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """What a target says about a delivered document."""

    remote_id: str  # the target's id for what we created
    draft: bool  # True when it sits in a draft / voucher inbox, not the ledger
    url: str | None = None
    not_accepted: tuple[str, ...] = ()  # our fields the target has no place for, e.g. "lines[2].kid"
    # What the target adds for the trace; `already_there: True` says the system itself answered that it holds the
    # document already (its duplicate detection), so nothing was created now.
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class TargetContext:
    """Everything a target connector may use; built per tenant by the composition root."""

    tenant: str
    settings: Mapping[str, Any]  # non-secret settings (base URL, company id, direct_posting, ...) and
    #                              under "secrets" the names of the connection's secrets in the store
    secrets: SecretStore
    blobs: BlobStore
    exchanges: ExchangeLog
    # Kept between messages for one tenant and connection (pipeline.lookups.connection_key): HTTP clients,
    # sessions, and the lookups (`lookups`).
    cache: dict[str, Any] = field(default_factory=dict)
    tables: TableStore | None = None  # for claims workers must share (e.g. creating a customer only once)
    transport: Any = None  # an httpx transport to send through instead of the network (tests, spec checks)
    sleep: Callable[[float], None] = time.sleep  # how a connector waits before a retry (tests record it)

    @property
    def lookups(self) -> Lookups:
        """What the target looked up in the accounting system, shared by every worker of this connection."""
        found = self.cache.get("lookups")
        if not isinstance(found, Lookups):
            found = self.cache.setdefault("lookups", Lookups())
        return found

    def secret(self, name: str, *, connector: str | None = None) -> str:
        """The value of the connection's secret `name` (e.g. "employee_token"), read from the secret store."""
        stored = (self.settings.get("secrets") or {}).get(name)
        if not stored:
            raise ConfigError(f"the connection names no secret for {name}", tenant=self.tenant, connector=connector)
        try:
            return self.secrets.get(str(stored))
        except Exception:  # the store's own "not found": say which secret, never its value
            raise ConfigError(f"secret {stored!r} ({name.replace('_', ' ')}) is missing from the secret store",
                              tenant=self.tenant, connector=connector) from None


@runtime_checkable
class Target(Protocol):
    """An accounting system (or file) we deliver to."""

    name: str

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        """Every account, VAT code, customer, dimension the documents need, checked at once."""
        ...

    def render(self, document: Document) -> Any:
        """The exact payload deliver() would send: for dry runs and the trace."""
        ...

    def deliver(self, document: Document) -> Delivery:
        """Create it in the target (as a draft unless the tenant opted in to direct posting)."""
        ...

    def find(self, reference: str) -> Delivery | None:
        """Look a reference up in the target: how a retry with an unknown outcome avoids a double."""
        ...

    def check(self) -> dict[str, Any]:
        """The connection test: ask the system who we are connected as (company, user), in a few fields for
        the operator; raises ConfigError (wrong key, missing permission, wrong company) in the customer's words."""
        ...


@runtime_checkable
class ChartOfAccounts(Protocol):
    """A target that can say which account numbers the tenant's chart cannot take: asked when a source whose
    settings name accounts (Omnium's booking options) is added, so a missing account is found then rather
    than at the first delivery. Optional: a target without a chart (the file target) does not implement it."""

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Only the numbers that cannot be booked on → why, in the target's terms ("does not exist in …",
        "is inactive in …"); {} when every one can."""
        ...


@runtime_checkable
class Companies(Protocol):
    """A target whose credentials reach several companies, one of which the customer picks (the descriptor's
    `picks` setting): asked while connecting, with the candidate settings and credentials, before any is chosen.
    Optional: a target whose credentials belong to one company does not implement it."""

    def companies(self) -> list[dict[str, Any]]:
        """Every company the credentials reach: `value` (what the `picks` setting takes), `name`, and whatever
        else tells them apart (organisation number, the customer it belongs to), in the system's order."""
        ...


class TargetFactory(Protocol):
    def __call__(self, context: TargetContext) -> Target: ...


class Source(Protocol):
    """A file format: bytes in, shared-form documents and problems out, streaming."""

    def __call__(self, data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterable[Document | Problem]: ...


@dataclass
class Stores:
    """The ports a stage needs, bundled by the composition root."""

    blobs: BlobStore
    tables: TableStore
    secrets: SecretStore
    queues: QueueSender | None = None  # for work that must be queued before it returns (scheduled pulls)


class PulledSource(Protocol):
    """A source we fetch from on a timer (Omnium OMS): what the scheduled pull needs to know of it.

    Items are the source's raw records (an order). Sources that book daily summaries group items by
    period — (store, business day) — and the summary is made once that period has closed.
    """

    name: str

    def feed(self, settings: Mapping[str, Any], secrets: SecretStore, *, tenant: str) -> Any:
        """A `pipeline.pulls.watermark.ChangeFeed` (closeable) for one tenant."""
        ...

    def identity(self, item: Mapping[str, Any]) -> str:
        """Id and version of an item, safe in a blob name: a repeated item overwrites itself."""
        ...

    def dump(self, item: Mapping[str, Any]) -> bytes: ...

    def load(self, data: bytes) -> dict[str, Any]: ...

    def periods(self, item: Mapping[str, Any], options: Mapping[str, Any]) -> set[tuple[str, dt.date]]:
        """The summaries this item contributes to; empty when the tenant books one voucher per item."""
        ...

    def period_end(self, day: dt.date) -> dt.datetime: ...

    def documents(self, items: Sequence[Mapping[str, Any]], options: Mapping[str, Any],
                  periods: Sequence[tuple[str, dt.date]] | None = None) -> Sequence[Document | Problem]: ...

    def accounts(self, options: Mapping[str, Any]) -> dict[str, list[str]]:
        """Every account number the tenant's booking options book on → the options that name it."""
        ...
