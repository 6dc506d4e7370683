"""Subscription events — renewal, payment, cancellation — as signed webhooks, turned into invoices, payments and
credit notes (docs/sources/subscriptions.md).

The signature (`Bilagsbro-Signature: t=<unix seconds>,v1=<hex>`) is HMAC-SHA256 over `<t>.` and the raw body, with
one of the tenant's active signing secrets (several while a secret is rotated), and `t` within TOLERANCE of now so
that a captured request cannot be replayed later. Translation is pure: an event becomes one shared-form document,
or problems naming the event's field.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from pipeline.errors import Problem
from pipeline.model import Document, Origin, Payment, SalesInvoice

FORMAT = "subscriptions"
HEADER = "bilagsbro-signature"
TOLERANCE = 300  # seconds either side of the receiver's clock
EVENT_TYPES = ("renewal", "payment", "cancellation")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_PART = re.compile(r"^(t|v1)=([0-9a-fA-F]{1,128}|\d{1,12})$")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a sender computes (the sandbox subscription system and the docs' example do this)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(header: str | None, body: bytes, secrets: Iterable[str], *, now: float,
           tolerance: int = TOLERANCE) -> str | None:
    """None when a signature of the header is one of the secrets' over this body at a fresh time; else why not."""
    if not header:
        return f"missing signature: send {HEADER.title()}: t=<unix seconds>,v1=<HMAC-SHA256 hex>"
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        match = _PART.match(part.strip())
        if match is None:
            return "malformed signature header: expected t=<unix seconds>,v1=<hex>"
        if match.group(1) == "t":
            timestamp = int(match.group(2))
        else:
            macs.append(match.group(2).lower())
    if timestamp is None or not macs:
        return "malformed signature header: it needs both t= and v1="
    if abs(now - timestamp) > tolerance:
        return f"signature timestamp is more than {tolerance} seconds from now: send the event again, freshly signed"
    for secret in secrets:
        expected = sign(secret, body, timestamp).split("v1=", 1)[1]
        if any(hmac.compare_digest(expected, mac) for mac in macs):
            return None
    return "signature does not match: check the signing secret (and that the body is sent byte for byte as signed)"


def _lines(raw: Any, *, negate: bool) -> list[dict[str, Any]]:
    lines = []
    for line in raw if isinstance(raw, list) else []:
        if not isinstance(line, dict):
            lines.append(line)
            continue
        out = {k: line[k] for k in ("description", "amount", "quantity", "unit_price", "vat_code", "vat_amount",
                                    "product") if k in line}
        if negate:
            for key in ("amount", "unit_price", "vat_amount"):
                if isinstance(out.get(key), str) and out[key] and not out[key].startswith("-"):
                    out[key] = "-" + out[key]
        lines.append(out)
    return lines


def _total(lines: list[dict[str, Any]]) -> str | None:
    try:
        return f"{sum((Decimal(str(line['amount'])) for line in lines), Decimal('0')):.2f}"
    except (KeyError, TypeError, ArithmeticError):
        return None


def translate(event: Mapping[str, Any], *, receipt: str) -> tuple[Document | None, list[Problem]]:
    """One event as one shared-form document (reference `<type>-<event id>`), or the problems that refuse it."""
    event_id, kind, data = event.get("id"), event.get("type"), event.get("data")
    problems = []
    if not isinstance(event_id, str) or not _ID.match(event_id):
        problems.append(Problem("id must be 1-100 letters, digits or _.:- (the event's unique id)", field="id",
                                code="invalid-event"))
    if kind not in EVENT_TYPES:
        problems.append(Problem(f"type must be one of {', '.join(EVENT_TYPES)}", field="type", code="invalid-event"))
    if not isinstance(data, dict):
        problems.append(Problem("data must be an object", field="data", code="invalid-event"))
    if problems:
        return None, problems
    assert isinstance(data, dict) and isinstance(event_id, str)
    reference = f"{kind}-{event_id}"
    origin = Origin(format=FORMAT, file=receipt)
    raw: dict[str, Any]
    if kind == "payment":
        raw = {"type": "payment", "reference": reference, "date": data.get("date"), "amount": data.get("amount"),
               "invoice_number": data.get("invoice_number"), "kid": data.get("kid"),
               "payment_method": data.get("method"), "currency": data.get("currency", "NOK")}
        model: type[SalesInvoice] | type[Payment] = Payment
    else:
        credit = kind == "cancellation"
        lines = _lines(data.get("lines"), negate=credit)
        raw = {"type": "sales_invoice", "reference": reference, "date": data.get("date"),
               "invoice_number": data.get("credit_note_number" if credit else "invoice_number"),
               "customer": data.get("customer"), "lines": lines, "total": data.get("total") or _total(lines),
               "currency": data.get("currency", "NOK"), "description": data.get("description")}
        if credit:
            raw["credits"] = data.get("credits")
            if isinstance(raw["total"], str) and not raw["total"].startswith("-") and raw["total"] != "0.00":
                raw["total"] = "-" + raw["total"]
        else:
            raw.update(due_date=data.get("due_date"), kid=data.get("kid"), payment_method=data.get("payment_method"))
        model = SalesInvoice
    raw = {k: v for k, v in raw.items() if v is not None}
    try:
        document = model.model_validate({**raw, "origin": origin.model_dump()})
    except ValidationError as exc:
        return None, [Problem(str(error["msg"]).removeprefix("Value error, "), reference=reference,
                              field="data." + ".".join(str(p) for p in error["loc"]) if error["loc"] else "data",
                              code="invalid-event")
                      for error in exc.errors(include_url=False)]
    return document, []


def parse(body: bytes) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The event object from the raw body, or the problem with it (its line and column)."""
    try:
        event = json.loads(body.decode("utf-8"), parse_float=str, parse_int=str)
    except UnicodeDecodeError:
        return None, [Problem("the body is not UTF-8", code="invalid-json")]
    except json.JSONDecodeError as exc:
        return None, [Problem(f"not JSON: {exc.msg}", line=exc.lineno, code="invalid-json")]
    if not isinstance(event, dict):
        return None, [Problem("an event is a JSON object", code="invalid-json")]
    return event, []
