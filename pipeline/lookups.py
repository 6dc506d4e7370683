"""What a target looks up in its accounting system (accounts, VAT codes, customers, departments, projects),
kept per tenant and connection, and fetched once however many workers need it at the same moment.

A host runs several queue-triggered functions at once; a burst of vouchers for one tenant would otherwise make
one lookup of the same account per worker. `Lookups.fill` is single flight: a key nobody holds is fetched by the
first worker that needs it, and the others wait for that fetch instead of making their own. Only what the system
returned is kept (a hit); a miss is asked again next time, so a customer created in the accounting system is
found on the next voucher. The cache belongs to one connection (`connection_key`): a change of base URL, company
or credentials starts an empty one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
Fetch = Callable[[list[K]], Mapping[str, Any]]


def connection_key(tenant: str, target: str, settings: Mapping[str, Any]) -> tuple[str, str, str]:
    """(tenant, target, a digest of the connection's settings): base URL, company, the credentials' slot names,
    every setting — so a changed connection never reads lookups made through the old one."""
    text = json.dumps(settings, sort_keys=True, default=str, ensure_ascii=False)
    return tenant, target, hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class _Flight:
    """One fetch in progress; the keys it covers point to it until it lands."""

    def __init__(self) -> None:
        self.landed = threading.Event()
        self.ok = False


class Lookups:
    """Per-connection tables of what the system returned, by kind ("accounts", "customers", ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[str, dict[str, Any]] = {}
        self._flights: dict[tuple[str, Hashable], _Flight] = {}
        self.fetches = 0  # how many fetches this cache made (for tests and benchmarks)

    def table(self, kind: str) -> dict[str, Any]:
        """The hits of one kind, by key; the same dict every time (a target may keep a view of it)."""
        with self._lock:
            return self._tables.setdefault(kind, {})

    def fill(self, kind: str, keys: Iterable[K], fetch: Fetch[K], *,
             have: Callable[[K, Mapping[str, Any]], bool] | None = None) -> dict[str, Any]:
        """Make sure `kind`'s table holds what `keys` need, and return the table.

        A key the table does not `have` (default: the key is in it) is fetched with `fetch(keys)`, whose answer
        (hits only) goes into the table; a key another worker is fetching right now is waited for, not fetched
        again. When that worker's fetch fails, the waiters fetch for themselves.
        """
        held = have or (lambda key, table: key in table)
        pending = list(dict.fromkeys(keys))
        table = self.table(kind)
        while pending:
            with self._lock:
                missing = [k for k in pending if not held(k, table)]
                theirs = {k: self._flights[(kind, k)] for k in missing if (kind, k) in self._flights}
                mine = [k for k in missing if k not in theirs]
                flight = _Flight()
                for key in mine:
                    self._flights[(kind, key)] = flight
            if mine:
                self._fly(kind, mine, fetch, flight, table)
            for other in set(theirs.values()):
                other.landed.wait()
            # What a failed fetch of someone else's was to bring is fetched again, by us or by another waiter.
            pending = [k for k, other in theirs.items() if not other.ok]
        return table

    def _fly(self, kind: str, keys: list[K], fetch: Fetch[K], flight: _Flight, table: dict[str, Any]) -> None:
        try:
            found = fetch(keys)
            with self._lock:
                table.update(found)
                self.fetches += 1
            flight.ok = True
        finally:
            with self._lock:
                for key in keys:
                    self._flights.pop((kind, key), None)
            flight.landed.set()

    def clear(self) -> None:
        """Forget every hit (after someone changed the chart in the accounting system)."""
        with self._lock:
            for table in self._tables.values():
                table.clear()
