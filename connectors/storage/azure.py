"""The real storage adapter: the pipeline's BlobStore, TableStore and QueueSender on Azure Storage.

One class per service, created once per process from an app setting: a connection string (Azurite,
development) or, in Azure, the identity-based settings `<PREFIX>__blobServiceUri`,
`__queueServiceUri`, `__tableServiceUri` with a managed identity — the same settings the Functions
host reads for the trigger bindings. Queue messages are base64, as host.json's messageEncoding says.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import IO, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from pipeline.ports import MAX_TRANSACTION, Condition, Conflict, Entity, NotFound, Operation, Stale, Stores
from pipeline.records.names import STORAGE_CONNECTION


class StorageAccount:
    """Clients for one storage account, from the app settings under `prefix`."""

    def __init__(self, prefix: str, settings: Mapping[str, str] | None = None) -> None:
        self.prefix = prefix
        self.settings = dict(os.environ if settings is None else settings)
        self.connection_string = self.settings.get(prefix)
        if not self.connection_string and not self.settings.get(f"{prefix}__blobServiceUri"):
            raise RuntimeError(
                f"storage is not configured: set {prefix} to a connection string, or "
                f"{prefix}__blobServiceUri/__queueServiceUri/__tableServiceUri for a managed identity"
            )

    @cached_property
    def credential(self) -> Any:
        from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

        client_id = self.settings.get(f"{self.prefix}__clientId")
        if self.settings.get(f"{self.prefix}__credential") == "managedidentity":
            return ManagedIdentityCredential(client_id=client_id)
        return DefaultAzureCredential(managed_identity_client_id=client_id)

    @cached_property
    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string)
        return BlobServiceClient(self.settings[f"{self.prefix}__blobServiceUri"], credential=self.credential)

    @cached_property
    def table_service(self) -> Any:
        from azure.data.tables import TableServiceClient

        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string)
        return TableServiceClient(self.settings[f"{self.prefix}__tableServiceUri"], credential=self.credential)

    def queue_client(self, queue: str) -> Any:
        from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

        encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
        if self.connection_string:
            return QueueClient.from_connection_string(self.connection_string, queue, message_encode_policy=encode,
                                                      message_decode_policy=decode)
        return QueueClient(self.settings[f"{self.prefix}__queueServiceUri"], queue, credential=self.credential,
                           message_encode_policy=encode, message_decode_policy=decode)

    def create_all(self, *, queues: Sequence[str], tables: Sequence[str], containers: Sequence[str]) -> None:
        """What infra/ creates in Azure; locally, the stack creates it on start."""
        for name in containers:
            try:
                self.blob_service.create_container(name)
            except ResourceExistsError:
                pass
        for name in tables:
            self.table_service.create_table_if_not_exists(name)
        for name in queues:
            try:
                self.queue_client(name).create_queue()
            except ResourceExistsError:
                pass


class AzureBlobs:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account

    def _blob(self, container: str, path: str) -> Any:
        return self.account.blob_service.get_blob_client(container, path)

    def put(
        self,
        container: str,
        path: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        from azure.storage.blob import ContentSettings

        self._blob(container, path).upload_blob(
            data,
            overwrite=True,
            metadata=dict(metadata or {}) or None,
            content_settings=ContentSettings(content_type=content_type) if content_type else None,
        )

    def get(self, container: str, path: str) -> bytes:
        try:
            return bytes(self._blob(container, path).download_blob().readall())
        except ResourceNotFoundError:
            raise NotFound(f"{container}/{path}") from None

    def open(self, container: str, path: str) -> IO[bytes]:
        try:
            downloader = self._blob(container, path).download_blob()
        except ResourceNotFoundError:
            raise NotFound(f"{container}/{path}") from None
        return io.BufferedReader(_ChunkReader(downloader.chunks()), buffer_size=1 << 20)

    def writer(self, container: str, path: str, *, content_type: str | None = None) -> _BlockWriter:
        return _BlockWriter(self._blob(container, path), content_type)

    def metadata(self, container: str, path: str) -> dict[str, str]:
        try:
            return dict(self._blob(container, path).get_blob_properties().metadata or {})
        except ResourceNotFoundError:
            raise NotFound(f"{container}/{path}") from None

    def list(self, container: str, prefix: str = "") -> Iterator[str]:
        client = self.account.blob_service.get_container_client(container)
        for blob in client.list_blobs(name_starts_with=prefix or None):
            yield blob.name

    def created_before(self, container: str, moment: dt.datetime, prefix: str = "") -> Iterator[str]:
        client = self.account.blob_service.get_container_client(container)
        for blob in client.list_blobs(name_starts_with=prefix or None):
            created = blob.creation_time or blob.last_modified
            if created is not None and created < moment:
                yield blob.name

    def delete(self, container: str, path: str) -> None:
        try:
            self._blob(container, path).delete_blob()
        except ResourceNotFoundError:
            pass


class _BlockWriter:
    """A block blob written as it is produced: blocks are staged as they fill, the list committed at the
    end, so the blob appears whole or not at all and memory holds one block at most. Block ids carry a
    token of their own, so two attempts writing the same blob never mix their blocks.
    https://learn.microsoft.com/en-us/rest/api/storageservices/put-block-list
    """

    BLOCK_BYTES = 2 * 1024 * 1024

    def __init__(self, client: Any, content_type: str | None) -> None:
        self.client = client
        self.content_type = content_type
        self.token = secrets.token_hex(8)
        self.buffer = bytearray()
        self.blocks: list[Any] = []

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= self.BLOCK_BYTES:
            self._stage(bytes(self.buffer[: self.BLOCK_BYTES]))
            del self.buffer[: self.BLOCK_BYTES]

    def _stage(self, chunk: bytes) -> None:
        from azure.storage.blob import BlobBlock

        block_id = base64.b64encode(f"{self.token}-{len(self.blocks):08d}".encode()).decode()
        self.client.stage_block(block_id, chunk, length=len(chunk))
        self.blocks.append(BlobBlock(block_id=block_id))

    def commit(self) -> None:
        from azure.storage.blob import ContentSettings

        if self.buffer:
            self._stage(bytes(self.buffer))
            self.buffer.clear()
        self.client.commit_block_list(
            self.blocks, content_settings=ContentSettings(content_type=self.content_type) if self.content_type else None
        )


class _ChunkReader(io.RawIOBase):
    """A read-only raw stream over the SDK's chunk iterator (wrapped in a BufferedReader): streams instead of
    loading the blob."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._chunk = b""
        self._at = 0  # how far into the current chunk (no copy of what is left on every read)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at >= len(self._chunk):
            try:
                self._chunk, self._at = next(self._chunks), 0
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._chunk) - self._at)
        buffer[:size] = memoryview(self._chunk)[self._at:self._at + size]
        self._at += size
        return size


_TYPED = "__json"  # properties Table Storage cannot hold natively are stored as JSON text


def _to_table(entity: Entity) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key == "etag" or value is None:
            continue
        if isinstance(value, (dict, list, tuple)):
            out[key + _TYPED] = json.dumps(value, ensure_ascii=False)
        else:
            out[key] = value
    return out


def _from_table(entity: Any) -> Entity:
    out: Entity = {}
    for key, value in entity.items():
        if key.endswith(_TYPED):
            out[key[: -len(_TYPED)]] = json.loads(value)
        else:
            out[key] = value
    out["etag"] = entity.metadata.get("etag")
    return out


class AzureTables:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self._clients: dict[str, Any] = {}

    @property
    def account_key(self) -> str:
        """Which account this reaches (what per-process caches of its rows are keyed by)."""
        return str(self.account.connection_string or self.account.settings.get(f"{self.account.prefix}__tableServiceUri"))

    def _table(self, table: str) -> Any:
        client = self._clients.get(table)
        if client is None:
            client = self._clients[table] = self.account.table_service.get_table_client(table)
        return client

    def insert(self, table: str, entity: Entity) -> str:
        try:
            meta = self._table(table).create_entity(_to_table(entity))
        except ResourceExistsError:
            raise Conflict(f"{table}/{entity['PartitionKey']}/{entity['RowKey']}") from None
        return str(meta["etag"])

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        try:
            return _from_table(self._table(table).get_entity(partition, row))
        except ResourceNotFoundError:
            return None

    def update(self, table: str, entity: Entity, *, etag: str) -> str:
        from azure.data.tables import UpdateMode

        try:
            meta = self._table(table).update_entity(
                _to_table(entity), mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise Stale(f"{table}/{entity['PartitionKey']}/{entity['RowKey']}") from None
        return str(meta["etag"])

    def upsert(self, table: str, entity: Entity) -> None:
        from azure.data.tables import UpdateMode

        self._table(table).upsert_entity(_to_table(entity), mode=UpdateMode.REPLACE)

    def insert_many(self, table: str, entities: Sequence[Entity]) -> None:
        by_partition: dict[str, list[Entity]] = {}
        for entity in entities:
            by_partition.setdefault(entity["PartitionKey"], []).append(entity)
        client = self._table(table)
        for rows in by_partition.values():
            for start in range(0, len(rows), 100):  # a transaction holds at most 100 entities
                client.submit_transaction([("upsert", _to_table(e)) for e in rows[start : start + 100]])

    def transact(self, table: str, operations: Sequence[Operation]) -> None:
        from azure.data.tables import TableTransactionError, UpdateMode

        if not operations:
            return
        if len(operations) > MAX_TRANSACTION:
            raise ValueError(f"{len(operations)} operations: an entity-group transaction holds at most {MAX_TRANSACTION}")
        batch: list[Any] = []
        for kind, entity in operations:
            if kind == "merge":  # If-Match: * — the entity must exist
                batch.append(("update", _to_table(entity), {"mode": UpdateMode.MERGE}))
            elif kind == "delete":
                batch.append(("delete", {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"]}))
            elif kind == "upsert":
                batch.append(("upsert", _to_table(entity), {"mode": UpdateMode.REPLACE}))
            elif kind == "insert-or-merge":
                batch.append(("upsert", _to_table(entity), {"mode": UpdateMode.MERGE}))
            else:
                batch.append((kind, _to_table(entity)))
        try:
            self._table(table).submit_transaction(batch)
        except TableTransactionError as exc:
            index = getattr(exc, "index", None)
            where = f"{table}/{operations[index][1]['RowKey']}" if isinstance(index, int) and index < len(operations) \
                else table
            if exc.status_code == 409:
                raise Conflict(where, index=index) from None
            if exc.status_code in (404, 412):
                raise Stale(where, index=index) from None
            raise

    def query(self, table: str, partition: str, row_prefix: str = "") -> list[Entity]:
        params: dict[str, Any] = {"pk": partition}
        query = "PartitionKey eq @pk"
        if row_prefix:
            # Everything that starts with the prefix sorts between prefix and prefix + U+FFFF.
            params.update(lo=row_prefix, hi=row_prefix + "\uffff")
            query += " and RowKey ge @lo and RowKey lt @hi"
        return [_from_table(e) for e in self._table(table).query_entities(query, parameters=params)]

    def scan(self, table: str, partition: str, *, after: str = "", below: str | None = None,
             where: Sequence[Condition] = (), limit: int = 100) -> list[Entity]:
        params: dict[str, Any] = {"pk": partition, "after": after}
        query = "PartitionKey eq @pk and RowKey gt @after"
        if below is not None:
            params["below"] = below
            query += " and RowKey lt @below"
        for index, (name, op, value) in enumerate(where):
            if not name.isidentifier() or op not in ("eq", "ne", "ge", "gt", "le", "lt"):
                raise ValueError(f"not a condition the table service takes: {name} {op}")
            params[f"v{index}"] = value
            query += f" and {name} {op} @v{index}"
        found: list[Entity] = []
        # The service returns at most 1,000 entities a page and follows continuation tokens by itself
        # (https://learn.microsoft.com/rest/api/storageservices/query-timeout-and-pagination).
        for entity in self._table(table).query_entities(query, parameters=params, results_per_page=min(limit, 1000)):
            found.append(_from_table(entity))
            if len(found) >= limit:
                break
        return found

    def delete(self, table: str, partition: str, row: str, *, etag: str | None = None) -> None:
        if etag is None:
            self._table(table).delete_entity(partition, row)  # the SDK ignores a 404 here
            return
        try:
            self._table(table).delete_entity(partition, row, etag=etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise Stale(f"{table}/{partition}/{row}") from None

    def due(self, table: str, before: str, *, limit: int = 1000) -> list[Entity]:
        found = []
        pages = self._table(table).query_entities("Due le @before", parameters={"before": before},
                                                  results_per_page=min(limit, 1000))
        for entity in pages:
            found.append(_from_table(entity))
            if len(found) >= limit:
                break
        return found


class AzureQueues:
    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self._clients: dict[str, Any] = {}

    def send(self, queue: str, message: str, *, delay_seconds: int = 0) -> None:
        client = self._clients.get(queue)
        if client is None:
            client = self._clients[queue] = self.account.queue_client(queue)
        client.send_message(message, visibility_timeout=delay_seconds or None)

    def oldest(self, queue: str) -> dt.datetime | None:
        client = self._clients.get(queue)
        if client is None:
            client = self._clients[queue] = self.account.queue_client(queue)
        # Up to 32 from the front: the service keeps roughly, not strictly, the order they were sent in.
        sent = [m.inserted_on for m in client.peek_messages(max_messages=32) if m.inserted_on is not None]
        return min(sent) if sent else None


def stores(settings: Mapping[str, str] | None = None) -> Stores:
    """The pipeline's ports on the data account and secret store these app settings name."""
    from connectors.secrets import secret_store

    settings = dict(os.environ if settings is None else settings)
    account = StorageAccount(STORAGE_CONNECTION, settings)
    return Stores(blobs=AzureBlobs(account), tables=AzureTables(account), secrets=secret_store(settings),
                  queues=AzureQueues(account))
