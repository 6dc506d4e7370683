"""The Visma Business import-file target's contract harness: Blob Storage in memory is the drop folder; what the
customer's import job would read is read back through our own Visma Business reader."""

from __future__ import annotations

import io
from urllib.parse import unquote

from connectors.sources import visma_business
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.names import CONTAINER_DELIVERIES
from pipeline.ports import TargetContext
from tests.contract.harness import Fault, Stored


class Harness:
    def __init__(self) -> None:
        self.blobs = MemoryBlobs()
        self.tables = MemoryTables()

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return TargetContext(tenant="kunde-1", settings={"direct_posting": direct_posting}, secrets=MemorySecrets(),
                             blobs=self.blobs, exchanges=MemoryExchanges(), tables=self.tables)

    def stored(self) -> list[Stored]:
        out = []
        for path in self.blobs.list(CONTAINER_DELIVERIES, "kunde-1/visma-business/"):
            data = self.blobs.get(CONTAINER_DELIVERIES, path)
            [voucher] = [d for d in visma_business.parse(io.BytesIO(data), file_name=path, options={"vat_map": {"3": "3"}})
                         if isinstance(d, Voucher)]
            batch = data.decode("windows-1252").splitlines()[2]  # @WaBnd's row: the date and the description
            texts = [batch, *(line.description or "" for line in voucher.lines)]
            out.append(Stored(unquote(path.rsplit("/", 1)[1].removesuffix(".txt")), path.split("/")[2] == "drafts",
                              " ".join(texts)))
        return out

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        raise AssertionError("never asked: the descriptor says it has no HTTP")

    def refusable(self) -> Voucher:
        raise AssertionError("never asked: the descriptor says it has no HTTP")

    def break_credentials(self) -> None:
        raise AssertionError("never asked: the descriptor names no secrets")

    def close(self) -> None:
        pass
