"""The file target's contract harness: Blob Storage in memory is its whole system."""

from __future__ import annotations

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from pipeline.records.names import CONTAINER_DELIVERIES
from tests.contract.harness import Fault, Stored


class Harness:
    def __init__(self) -> None:
        self.blobs = MemoryBlobs()

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return TargetContext(tenant="kunde-1", settings={"direct_posting": direct_posting}, secrets=MemorySecrets(),
                             blobs=self.blobs, exchanges=MemoryExchanges())

    def stored(self) -> list[Stored]:
        out = []
        for path in self.blobs.list(CONTAINER_DELIVERIES, "kunde-1/"):
            document = Voucher.model_validate_json(self.blobs.get(CONTAINER_DELIVERIES, path))
            texts = [document.description or "", *(line.description or "" for line in document.lines)]
            out.append(Stored(document.reference, path.split("/")[1] == "drafts", " ".join(texts)))
        return out

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        raise AssertionError("never asked: the file target's descriptor says it has no HTTP")

    def refusable(self) -> Voucher:
        raise AssertionError("never asked: the file target's descriptor says it has no HTTP")

    def break_credentials(self) -> None:
        raise AssertionError("never asked: the file target's descriptor names no secrets")

    def close(self) -> None:
        pass
