"""The Omnium OMS sandbox server: token, order search, scroll, limits and faults, over real HTTP on loopback.

Contract (from /work/shared/reference/target-apis.md §9 and the swagger mirror sigvardt/omnium-oms-skill):
- `POST /api/Token?clientId=…&clientSecret=…&returnAsJson=true` → `{accessToken, tokenType, expiresIn}`;
  without `returnAsJson` the body is the bare token string. Then `Authorization: Bearer …`.
- `POST /api/Orders/Search` (`OmniumOrderSearchRequest`: `modifiedFrom`, `modifiedTo`, `createdFrom`,
  `createdTo`, `selectedStatuses`, `excludedStatuses`, `selectedStores`, `sortOrder`, `take` ≤ 100, 0-based
  `page`, `take*page` ≤ 10,000 else 400) → `{result, totalHits, facets, scrollId}`.
- `POST /api/Orders/Scroll` (same body) → `{result, totalHits, scrollId}`; `GET /api/Orders/Scroll/{scrollId}`
  until `result` is empty. A scroll is a snapshot taken when it opens, as Elasticsearch scrolls are.
- 401 for a missing, unknown or expired token; 429 with `Retry-After` past the per-user concurrency limit
  (20 per API user) and during injected bursts.
[unverified] The error body shape: we answer ASP.NET Core ProblemDetails (`title`, `status`, `detail`).
[unverified] Whether `modifiedFrom`/`modifiedTo` are inclusive: both are inclusive here; the connector
does not rely on it (it re-reads an overlap and filters by its own window).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandboxes.loopback import Loopback
from sandboxes.omnium import orders as gen

MAX_TAKE = 100
MAX_RESULT_WINDOW = 10_000
SORTS = ("CreatedAscending", "CreatedDescending", "ModifiedAscending", "ModifiedDescending")
_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _encode(value: Any) -> str:
    """JSON with Decimals as exact numbers (json has no raw numbers, so mark them and unquote)."""
    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return f"\x00D{obj}"
        if isinstance(obj, dt.datetime):
            return gen.wire_time(obj)
        raise TypeError(type(obj).__name__)
    return _NUMBER.sub(r"\1", json.dumps(value, default=default, ensure_ascii=False))


def _parse_time(text: Any, field: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise _BadRequest(f"'{field}' is not a date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class _BadRequest(Exception):
    pass


@dataclass
class Faults:
    """Switches tests flip to make the sandbox misbehave the way the real service sometimes does."""

    burst_429: int = 0  # answer the next N authorised requests 429
    token_429: int = 0  # answer the next N token requests 429 (the token endpoint is rate limited too)
    retry_after: str = "0"  # the Retry-After header on injected and concurrency 429s (seconds)
    expire_tokens_after: int | None = None  # after N more authorised requests, every issued token expires
    fail_after_pages: int | None = None  # the page request after N more pages answers 500 once (a crash)
    page_hook: Callable[[int], None] | None = None  # called with the page count; raising answers 500


class OmniumSandbox(Loopback):
    """An in-process Omnium: `OmniumSandbox().start()` → `.base_url`; `.stop()` when done."""

    def __init__(
        self,
        *,
        client_id: str = "bilagsbro",
        client_secret: str = "hemmelig-nøkkel",
        token_lifetime: dt.timedelta = dt.timedelta(days=10),
        clock: Callable[[], dt.datetime] = _utcnow,
        max_concurrent: int = 20,
        max_result_window: int = MAX_RESULT_WINDOW,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.max_concurrent = max_concurrent
        self.max_result_window = max_result_window
        self.faults = Faults()
        self.orders: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self._fragments: dict[str, str] = {}  # order id → its JSON, rendered once per version
        self._tokens: dict[str, dt.datetime] = {}
        self.issued: list[str] = []  # every access token ever handed out (tests look for them in logs)
        self._scrolls: dict[str, tuple[list[str], int, int]] = {}  # id → (ids left, take, total hits)
        self._in_flight = 0
        self._pages = 0
        self._lock = threading.RLock()
        self._rng = random.Random(0)
        self._next_number = 1
        self._address = (host, port)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> OmniumSandbox:
        sandbox = self

        class Handler(_Handler):
            owner = sandbox

        self._serve(Handler, name="omnium-sandbox")
        return self

    @property
    def base_url(self) -> str:
        return self.origin

    # -- data ---------------------------------------------------------------------------------------

    def seed_orders(
        self,
        n: int = 5000,
        stores: Sequence[str] = gen.STORES,
        days: int = 7,
        *,
        seed: int = 1,
    ) -> list[str]:
        """Add `n` deterministic orders over the `days` Oslo business days before the sandbox clock's today."""
        rng = random.Random(seed)
        created = gen.seed(rng, n=n, stores=stores, days=days, until=self.clock(), first_number=self._next_number)
        with self._lock:
            self._rng = random.Random(seed + 1)
            self._next_number += n
            for order in created:
                self._put(order)
        return [o["id"] for o in created]

    def add_order(
        self,
        *,
        store: str = gen.STORES[0],
        created: dt.datetime | None = None,
        modified: dt.datetime | None = None,
        paid: Decimal | None = None,
        fields: Mapping[str, Any] | None = None,
        products: Sequence[str] | None = None,
        gift_card_paid: Decimal | None = None,
    ) -> dict[str, Any]:
        """One new order; pass `modified` in the past to play a late commit or a skewed clock (or, with a
        `created` long before `modified`, an offline till syncing late). `paid` leaves the rest of the total
        open (an invoice, a partly paid order), after `gift_card_paid` paid with a gift card; `products`
        (codes, "9001" a gift card) instead of a random basket; `fields` overrides order fields (the
        customer's, say)."""
        with self._lock:
            at = created or self.clock()
            order = gen.generate_order(self._rng, self._next_number, store, at, products=products)
            self._next_number += 1
            order["modified"] = modified or at
            if paid is not None or gift_card_paid is not None:
                gift = gift_card_paid or Decimal("0.00")
                gen.pay_only(order, order["orderForm"]["total"] - gift if paid is None else paid, gift_card=gift)
            order.update(fields or {})
            self._put(order)
            return order

    def modify_order(self, order_id: str, *, at: dt.datetime | None = None, add_return: bool = False) -> dict[str, Any]:
        """Touch an order (a new version, modified bumped); optionally register a return on it."""
        with self._lock:
            order = self.orders[order_id]
            at = at or self.clock()
            if add_return and gen.add_return(order, at, self._rng) is None:
                raise ValueError(f"order {order_id} has nothing left to return")
            order["modified"] = at
            order["versionId"] = str(int(order["versionId"]) + 1)
            order.setdefault("orderNotes", []).append({"comment": f"Endret {gen.wire_time(at)}"})
            self._put(order)
            return order

    def replace_order(self, order: dict[str, Any]) -> None:
        """Store an order edited by hand (a test's odd case) as it now is."""
        with self._lock:
            self._put(order)

    def change_order(self, order_id: str, *, at: dt.datetime | None = None, extra: int = 1) -> Decimal:
        """Change an order's amounts (one more of its first line; its last payment follows): a new version.
        Returns the change of the order total."""
        with self._lock:
            order = self.orders[order_id]
            delta = gen.change_quantity(order, at or self.clock(), extra=extra)
            order["versionId"] = str(int(order["versionId"]) + 1)
            self._put(order)
            return delta

    def cancel_order(self, order_id: str, *, at: dt.datetime | None = None) -> dict[str, Any]:
        """Cancel an order after the fact (its payments refunded): it no longer counts in any day's totals."""
        with self._lock:
            order = self.orders[order_id]
            at = at or self.clock()
            order["status"] = "Cancelled"
            for number, payment in enumerate(list(order["orderForm"]["payments"]), 1):
                order["orderForm"]["payments"].append({**payment, "id": f"{payment['id']}-R{number}",
                                                       "transactionType": "Credit", "created": at})
            order["modified"] = at
            order["versionId"] = str(int(order["versionId"]) + 1)
            self._put(order)
            return order

    def totals(self) -> dict[tuple[str, dt.date], gen.DayTotals]:
        """The sandbox's own figures per (store, Oslo business day): what summaries must add up to."""
        with self._lock:
            return gen.totals(list(self.orders.values()))

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _put(self, order: dict[str, Any]) -> None:
        self.orders[order["id"]] = order
        self._fragments[order["id"]] = _encode(order)

    # -- the API ------------------------------------------------------------------------------------

    def _token(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], str]:
        client_id = (query.get("clientId") or [""])[0]
        client_secret = (query.get("clientSecret") or [""])[0]
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {}, _encode({"title": "Unauthorized", "status": 401, "detail": "Invalid client credentials"})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self.clock() + self.token_lifetime
            self.issued.append(token)
        if (query.get("returnAsJson") or ["false"])[0].lower() == "true":
            body = {"accessToken": token, "tokenType": "Bearer",
                    "expiresIn": int(self.token_lifetime.total_seconds())}
            return 200, {}, _encode(body)
        return 200, {}, json.dumps(token)

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            until = self._tokens.get(header[len("Bearer "):])
            if until is None or until <= self.clock():
                return False
            if self.faults.expire_tokens_after is not None:
                if self.faults.expire_tokens_after <= 0:
                    self.faults.expire_tokens_after = None
                    self._tokens.clear()
                    return False
                self.faults.expire_tokens_after -= 1
            return True

    def _matching(self, body: dict[str, Any]) -> list[str]:
        modified_from = _parse_time(body.get("modifiedFrom"), "modifiedFrom")
        modified_to = _parse_time(body.get("modifiedTo"), "modifiedTo")
        created_from = _parse_time(body.get("createdFrom"), "createdFrom")
        created_to = _parse_time(body.get("createdTo"), "createdTo")
        statuses = set(body.get("selectedStatuses") or ())
        excluded = set(body.get("excludedStatuses") or ())
        stores = set(body.get("selectedStores") or ())
        sort = body.get("sortOrder") or "CreatedDescending"
        if sort not in SORTS:
            raise _BadRequest(f"'sortOrder' must be one of {', '.join(SORTS)}")
        hits = []
        with self._lock:
            for order in self.orders.values():
                if modified_from and order["modified"] < modified_from:
                    continue
                if modified_to and order["modified"] > modified_to:
                    continue
                if created_from and order["created"] < created_from:
                    continue
                if created_to and order["created"] > created_to:
                    continue
                if (statuses and order["status"] not in statuses) or order["status"] in excluded:
                    continue
                if stores and order["storeId"] not in stores:
                    continue
                hits.append(order)
        field = "modified" if sort.startswith("Modified") else "created"
        hits.sort(key=lambda o: (o[field], o["id"]), reverse=sort.endswith("Descending"))
        return [h["id"] for h in hits]

    def _page_taken(self) -> None:
        """Counts a page of results and plays the 'crash half way' faults."""
        with self._lock:
            self._pages += 1
            pages = self._pages
            if self.faults.fail_after_pages is not None:
                if self.faults.fail_after_pages <= 0:
                    self.faults.fail_after_pages = None
                    raise RuntimeError("injected crash in the middle of paging")
                self.faults.fail_after_pages -= 1
        if self.faults.page_hook is not None:
            self.faults.page_hook(pages)

    def _result(self, ids: Sequence[str], total: int, scroll_id: str | None) -> str:
        with self._lock:
            fragments = ",".join(self._fragments[i] for i in ids)
        scroll = json.dumps(scroll_id)
        return f'{{"result":[{fragments}],"totalHits":{total},"facets":[],"scrollId":{scroll},"isValid":true}}'

    def _search(self, body: dict[str, Any]) -> str:
        take = int(body.get("take", 10))
        page = int(body.get("page", 0))
        if not 1 <= take <= MAX_TAKE:
            raise _BadRequest(f"'take' must be between 1 and {MAX_TAKE}")
        if page < 0:
            raise _BadRequest("'page' must be 0 or more")
        if take * page > self.max_result_window:
            raise _BadRequest(
                f"Result window is too large, take * page must be less than or equal to {self.max_result_window}; "
                "use /api/Orders/Scroll for large result sets"
            )
        ids = self._matching(body)
        self._page_taken()
        return self._result(ids[page * take:(page + 1) * take], len(ids), None)

    def _scroll_open(self, body: dict[str, Any]) -> str:
        take = int(body.get("take") or 1000)
        if not 1 <= take <= 1000:
            raise _BadRequest("'take' must be between 1 and 1000 for a scroll")
        ids = self._matching(body)
        scroll_id = secrets.token_hex(12)
        with self._lock:
            self._scrolls[scroll_id] = (ids[take:], take, len(ids))
        self._page_taken()
        return self._result(ids[:take], len(ids), scroll_id)

    def _scroll_next(self, scroll_id: str) -> tuple[int, str]:
        with self._lock:
            if scroll_id not in self._scrolls:
                return 404, _encode({"title": "Not Found", "status": 404, "detail": "Unknown or expired scrollId"})
            left, take, total = self._scrolls[scroll_id]
            ids = left[:take]
            self._scrolls[scroll_id] = (left[take:], take, total)
            if not ids:  # exhausted: Omnium answers an empty result; the id is no use afterwards
                del self._scrolls[scroll_id]
        self._page_taken()
        return 200, self._result(ids, total, scroll_id)

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], str]:
        url = urlsplit(target)
        path = url.path.rstrip("/")
        if method == "POST" and path.lower() == "/api/token":
            with self._lock:
                if self.faults.token_429 > 0:
                    self.faults.token_429 -= 1
                    return 429, {"Retry-After": self.faults.retry_after}, _encode(
                        {"title": "Too Many Requests", "status": 429, "detail": "Rate limit exceeded"})
            return self._token(parse_qs(url.query))
        if not self._authorised(headers.get("authorization")):
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, _encode(
                {"title": "Unauthorized", "status": 401, "detail": "Missing, invalid or expired access token"})
        with self._lock:
            if self.faults.burst_429 > 0:
                self.faults.burst_429 -= 1
                return 429, {"Retry-After": self.faults.retry_after}, _encode(
                    {"title": "Too Many Requests", "status": 429, "detail": "Rate limit exceeded"})
            if self._in_flight >= self.max_concurrent:
                return 429, {"Retry-After": self.faults.retry_after}, _encode(
                    {"title": "Too Many Requests", "status": 429,
                     "detail": f"More than {self.max_concurrent} concurrent requests"})
            self._in_flight += 1
        try:
            try:
                body = json.loads(raw or b"{}", parse_float=Decimal) if method == "POST" else {}
                if method == "POST" and path == "/api/Orders/Search":
                    return 200, {}, self._search(body)
                if method == "POST" and path == "/api/Orders/Scroll":
                    return 200, {}, self._scroll_open(body)
                if method == "GET" and path.startswith("/api/Orders/Scroll/"):
                    status, text = self._scroll_next(path.rsplit("/", 1)[1])
                    return status, {}, text
                if method == "GET" and path.startswith("/api/Orders/"):
                    order_id = path.rsplit("/", 1)[1]
                    with self._lock:
                        if order_id in self._fragments:
                            return 200, {}, self._fragments[order_id]
                    return 404, {}, _encode({"title": "Not Found", "status": 404, "detail": f"Order {order_id}"})
                return 404, {}, _encode({"title": "Not Found", "status": 404, "detail": f"{method} {path}"})
            except (_BadRequest, ValueError, TypeError) as exc:
                return 400, {}, _encode({"title": "Bad Request", "status": 400, "detail": str(exc)})
            except Exception as exc:  # an injected crash: the service answers 500
                return 500, {}, _encode({"title": "Internal Server Error", "status": 500, "detail": str(exc)})
        finally:
            with self._lock:
                self._in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    owner: OmniumSandbox
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, text = self.owner.handle(method, self.path, headers, raw)
        data = text.encode("utf-8")
        self.owner.requests.append((method, urlsplit(self.path).path, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests read .requests
        pass
