"""Registration numbers (`trRegNumber`): the number that makes a set of import items one voucher in Xledger.

Two vouchers given the same number while both wait in the GL import would become one voucher, so every voucher
gets a number no other voucher of the tenant had: numbers are claimed from a counter in Table Storage (table
`state`, an ETag-guarded update that only one worker wins) a block at a time, so claiming costs one storage
operation per block, not per voucher. A retried voucher simply gets a new number: `find` knows it by its
`extIdentifier`, not by its number. The range starts high (100000001) to stay clear of the entity's other
imports [unverified whether Xledger wants numbers unique beyond one call, or reads them as anything but a group];
GraphQL's Int ends at 2147483647.
"""

from __future__ import annotations

import itertools
import threading
import time

from pipeline.errors import TransientError
from pipeline.names import TABLE_STATE
from pipeline.ports import Conflict, Stale, TableStore

FIRST = 100_000_001
LAST = 2_147_483_647
BLOCK = 1000
ROW = "xledger-tr-reg-number"


class Numbers:
    """The tenant's registration numbers, handed out from blocks claimed in `tables` (or, without tables —
    a connection test, a unit test — from one process's own range)."""

    def __init__(self, tables: TableStore | None, tenant: str) -> None:
        self.tables, self.tenant = tables, tenant
        self._lock = threading.Lock()
        self._next = self._end = 0
        if tables is None:
            start = FIRST + (int(time.time()) % 100_000) * 10_000
            self._local = itertools.count(start)

    def take(self, count: int) -> list[int]:
        with self._lock:
            if self.tables is None:
                return [next(self._local) for _ in range(count)]
            out: list[int] = []
            while len(out) < count:
                if self._next >= self._end:
                    self._next, self._end = self._claim(max(BLOCK, count))
                out.append(self._next)
                self._next += 1
            return out

    def _claim(self, size: int) -> tuple[int, int]:
        assert self.tables is not None
        for _ in range(50):
            row = self.tables.get(TABLE_STATE, self.tenant, ROW)
            if row is None:
                try:
                    self.tables.insert(TABLE_STATE, {"PartitionKey": self.tenant, "RowKey": ROW, "Next": FIRST + size})
                    return FIRST, FIRST + size
                except Conflict:
                    continue
            start = int(row["Next"])
            if start + size > LAST:
                start = FIRST  # a wrap after two billion vouchers: the early ones are long processed
            try:
                self.tables.update(TABLE_STATE, {"PartitionKey": self.tenant, "RowKey": ROW, "Next": start + size},
                                   etag=row["etag"])
                return start, start + size
            except Stale:
                continue
        raise TransientError("could not claim Xledger registration numbers: the counter kept changing",
                             tenant=self.tenant, connector="xledger")
