"""The sandbox subscription system: subscribers, their renewals, payments and cancellations, sent as signed events.

It behaves as docs/sources/subscriptions.md asks of a sender: each event has a unique id and is signed
(`Bilagsbro-Signature: t=<unix seconds>,v1=<HMAC-SHA256 hex of "<t>." and the body>`) with the signing secret
Bilagsbro issued; a delivery that fails is sent again with the same id (`resend`), which Bilagsbro takes once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from pipeline.norway.kid import kid_mod10
from pipeline.subscriptions import sign


@dataclass
class Subscriber:
    """A customer of the subscription system: private (B2C) or a business (B2B; EHF when it asks for it)."""

    name: str
    email: str
    number: str | None = None
    organization_number: str | None = None
    delivery_method: str = "email"
    address: dict[str, Any] = field(default_factory=dict)

    def as_customer(self) -> dict[str, Any]:
        customer: dict[str, Any] = {"name": self.name, "email": self.email, "delivery_method": self.delivery_method}
        for key in ("number", "organization_number"):
            if getattr(self, key):
                customer[key] = getattr(self, key)
        if self.address:
            customer["address"] = self.address
        return customer


class SubscriptionSystem:
    """Sends events to one tenant's webhook: `SubscriptionSystem(url, secret).renew(...)` → Bilagsbro's answer."""

    def __init__(self, url: str, secret: str, *, client: httpx.Client | None = None, first_invoice: int = 5001) -> None:
        self.url = url
        self.secret = secret
        self.client = client or httpx.Client(timeout=30)
        self.sent: list[dict[str, Any]] = []  # every event, as sent
        self._events = itertools.count(1)
        self._invoices = itertools.count(first_invoice)
        self.invoices: dict[str, dict[str, Any]] = {}  # number → the renewal's data

    def _event(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"evt_{int(time.time())}_{next(self._events)}", "type": kind,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "data": data}

    def send(self, event: dict[str, Any], *, secret: str | None = None, at: int | None = None) -> httpx.Response:
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        header = sign(secret or self.secret, body, int(time.time()) if at is None else at)
        self.sent.append(event)
        return self.client.post(self.url, content=body, headers={"Content-Type": "application/json",
                                                                 "Bilagsbro-Signature": header})

    def resend(self, event: dict[str, Any]) -> httpx.Response:
        """The same event again (a retry after a lost answer): same id, freshly signed."""
        return self.send(event)

    def renew(self, subscriber: Subscriber, *, plan: str, price: Decimal, date: dt.date, method: str = "vipps",
              vat_code: str = "3", shipping: Decimal | None = None, due_days: int = 0) -> dict[str, Any]:
        """A renewal billed now: the invoice with its lines (prices include VAT) and customer."""
        number = str(next(self._invoices))
        lines = [{"description": plan, "amount": f"{price:.2f}", "vat_code": vat_code}]
        if shipping is not None:
            lines.append({"description": "Frakt", "amount": f"{shipping:.2f}", "vat_code": "3"})
        data = {"invoice_number": number, "date": date.isoformat(),
                "due_date": (date + dt.timedelta(days=due_days)).isoformat(), "payment_method": method,
                "kid": kid_mod10(number.zfill(8)), "customer": subscriber.as_customer(), "lines": lines}
        self.invoices[number] = data
        return self._event("renewal", data)

    def pay(self, number: str, *, date: dt.date, method: str = "vipps", amount: Decimal | None = None) -> dict[str, Any]:
        invoice = self.invoices[number]
        total = sum((Decimal(line["amount"]) for line in invoice["lines"]), Decimal("0"))
        return self._event("payment", {"invoice_number": number, "kid": invoice["kid"], "date": date.isoformat(),
                                       "amount": f"{(total if amount is None else amount):.2f}", "method": method})

    def cancel(self, number: str, *, date: dt.date) -> dict[str, Any]:
        """The whole renewal credited (the subscriber cancelled): a credit note of every line."""
        invoice = self.invoices[number]
        return self._event("cancellation", {"credit_note_number": f"K{number}", "credits": number,
                                            "date": date.isoformat(), "customer": invoice["customer"],
                                            "lines": [dict(line) for line in invoice["lines"]]})

    def close(self) -> None:
        self.client.close()
