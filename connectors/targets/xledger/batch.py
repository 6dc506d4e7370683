"""Group commit: the vouchers that concurrent deliveries of one connection hand in become one `addGLImportItems`.

Xledger charges per request and takes up to 500 import items per call, while the pipeline delivers one voucher
per message. So a delivery hands its voucher to the connection's `Batcher` and waits: the first to arrive while
no call is in flight sends at once (a lone voucher is never held back), and whatever arrives while a call is in
flight goes out together in the next one, up to 500 items. Each delivery gets its own answer back — its items, or
its own copy of the error — and the idempotency ledger treats each voucher as if it had been sent alone.

When Xledger refuses a call of several vouchers, it is not known whether it refused all of them or stored the
good ones ([unverified]), nor always which one it refused: the refusing sender then asks Xledger which of them it
holds (one lookup), settles those, and sends each of the others alone, so that only the bad one is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import BilagsbroError
from pipeline.ledger import before_post
from pipeline.model import Voucher
from pipeline.ports import Delivery, Exchange, ExchangeLog


@dataclass(eq=False)
class Entry:
    """One voucher waiting to be sent, and — once `done` — what became of it."""

    voucher: Voucher
    size: int  # how many import items it makes
    exchanges: ExchangeLog
    alone: bool = False  # send it in a call of its own (after a refusal of a shared call)
    delivery: Delivery | None = None
    error: BaseException | None = None
    done: bool = False

    def fail(self, error: BaseException) -> None:
        if isinstance(error, BilagsbroError):  # each voucher its own copy, naming its reference
            copy = type(error)(error.message, tenant=error.tenant, reference=self.voucher.reference,
                               connector=error.connector, status=error.status,
                               provider_message=error.provider_message, request_id=error.request_id,
                               problems=tuple(p for p in error.problems
                                              if p.reference in (None, self.voucher.reference)),
                               retry_after=error.retry_after)
            error = copy
        self.error, self.done = error, True

    def succeed(self, delivery: Delivery) -> None:
        self.delivery, self.done = delivery, True


@dataclass
class FanOut:
    """An exchange log that records a shared call in the log of every document it carried."""

    logs: list[ExchangeLog] = field(default_factory=list)

    def record(self, exchange: Exchange) -> None:
        for log in self.logs:
            log.record(exchange)


class Batcher:
    """One per connection (kept in its cache): `submit` blocks until the entry's call has been answered."""

    def __init__(self, send: Callable[[list[Entry]], None], *, max_items: int = 500) -> None:
        self._send, self.max_items = send, max_items
        self._waiting: list[Entry] = []
        self._busy = False
        self._cond = threading.Condition()
        self.calls = 0  # how many calls were sent (the bench and tests read it)

    def _take(self) -> list[Entry]:
        """The oldest entries that fit in one call; an entry marked `alone` only by itself."""
        first = self._waiting[0]
        if first.alone:
            return [self._waiting.pop(0)]
        batch: list[Entry] = []
        items = 0
        for entry in list(self._waiting):
            if entry.alone or (batch and items + entry.size > self.max_items):
                break
            batch.append(entry)
            items += entry.size
            self._waiting.remove(entry)
        return batch

    def again(self, entries: list[Entry]) -> None:
        """Queue entries of a refused call again, each to be sent alone, ahead of the others."""
        with self._cond:
            for entry in entries:
                entry.alone = True
            self._waiting[:0] = entries

    def submit(self, entry: Entry) -> Entry:
        before_post()  # a delivery that lost its ledger lease does not join a call
        with self._cond:
            self._waiting.append(entry)
        while True:
            with self._cond:
                while not entry.done and (self._busy or not self._waiting):
                    self._cond.wait()
                if entry.done:
                    return entry
                self._busy = True
                batch = self._take()
                self.calls += 1
            try:
                self._send(batch)
            except BaseException as exc:  # noqa: BLE001 - every waiter must learn of it, not only this thread
                for waiting in batch:
                    if not waiting.done and not waiting.alone:
                        waiting.fail(exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


def delivery(edges: list[dict[str, Any]], *, number: int, draft: bool, not_accepted: tuple[str, ...]) -> Delivery:
    """What one voucher's answered items say: the import (its trRegNumber) and the items Xledger made."""
    ids = [str(edge["node"]["dbId"]) for edge in edges]
    return Delivery(remote_id=f"gl-import/{number}", draft=draft, not_accepted=not_accepted,
                    details={"gl_import_items": ids, "tr_reg_number": number})
