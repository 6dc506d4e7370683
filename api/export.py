"""GET /api/v1/export: a tenant's documents of a period, as JSON lines or as a SAF-T Financial file, in pages.

A page covers at most `limit` documents of the period (DEFAULT_PAGE unless asked, at most PAGE), in id order;
when the period holds more, the answer's `Link` header names the next page (`after=<the last document id>`). JSON lines pages
concatenate into the whole period; each SAF-T page is a file of its own that validates alone (SAF-T may be split
into several files, each with its header: reference/norway-standards.md §1.6). Why pages: the Functions host
takes a Python function's HTTP answer as one body, so an answer is held in memory once — a page bounds it, where
a period would not. `bilagsbro export` writes a period of any size as one stream.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from api.http import Request, Response, error
from api.query import day
from pipeline.errors import ConfigError, Problem
from pipeline.export import FORMATS, Period, jsonl
from pipeline.export.entries import document_ids, read
from pipeline.export.tenant_saft import saft_file, saft_file_name
from pipeline.ports import Stores
from pipeline.registry import Connectors
from pipeline.tenants import TenantRegistry

PAGE = 10_000  # the most documents a page may cover
DEFAULT_PAGE = 1_000  # … and covers unless asked: a page must be answered well within the host's HTTP timeout
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ID = re.compile(r"^d-[0-9a-f-]{14,60}$")
CONTENT_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "saft": "application/xml; charset=utf-8"}


def parameters(request: Request) -> tuple[dict[str, Any], list[Problem]]:
    """The query, checked: every problem at once, each naming its parameter."""
    problems: list[Problem] = []
    start = day(request, "from", problems, meaning=" (Europe/Oslo)")
    end = day(request, "to", problems, meaning=" (Europe/Oslo)")
    if start and end and end < start:
        problems.append(Problem(f"to ({end}) is before from ({start})", field="to", code="invalid"))
    format = request.query.get("format") or "jsonl"
    if format not in FORMATS:
        problems.append(Problem(f"format={format!r} is not known; choose {' or '.join(FORMATS)}", field="format",
                                code="invalid"))
    currency = request.query.get("currency") or "NOK"
    if not _CURRENCY.match(currency):
        problems.append(Problem(f"currency={currency!r} is not an ISO 4217 code such as NOK", field="currency",
                                code="invalid"))
    after = request.query.get("after") or None
    if after is not None and not _ID.match(after):
        problems.append(Problem(f"after={after!r} is not a document id (d-…) from a Link header", field="after",
                                code="invalid"))
    raw_limit = request.query.get("limit") or str(DEFAULT_PAGE)
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= PAGE:
        problems.append(Problem(f"limit={raw_limit!r} must be a whole number from 1 to {PAGE}", field="limit",
                                code="invalid"))
    return ({"period": Period(start, end) if start and end else None, "format": format, "currency": currency,
             "after": after, "limit": limit}, problems)


def answer(stores: Stores, connectors: Connectors, tenant_id: str, request: Request) -> Response:
    """The export page the request asks for (the caller has authenticated the tenant)."""
    asked, problems = parameters(request)
    if problems:
        return error(400, "the export's parameters are not valid", problems)
    period: Period = asked["period"]
    tenant = TenantRegistry(stores.tables).get(tenant_id)
    ids = document_ids(stores, tenant_id, period, after=asked["after"])
    page = list(islice(ids, asked["limit"]))  # ids only: the documents are read one at a time below
    more = len(page) == asked["limit"] and next(ids, None) is not None
    selected = read(stores, tenant_id, page)
    headers = {"X-Bilagsbro-Documents": str(len(page))}
    if more:
        query = {**{k: v for k, v in request.query.items() if k != "after"}, "after": page[-1]}
        headers["Link"] = f'<{request.base_url}/api/v1/export?{urlencode(query)}>; rel="next"'
    if asked["format"] == "jsonl":
        body = b"".join(jsonl.chunks(selected))
        name = f"bilagsbro-{tenant_id}-{period.start}-{period.end}.jsonl"
    else:
        try:
            saft = saft_file(tenant, connectors, selected, period, asked["currency"])
        except ConfigError as exc:
            return error(422, exc.message, list(exc.problems))
        body = b"".join(saft.chunks())
        headers.update({"X-Bilagsbro-Transactions": str(saft.summary.transactions),
                        "X-Bilagsbro-Left-Out": str(saft.summary.left_out)})
        name = saft_file_name(tenant, saft.company.organization_number)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(200, body, headers=headers, content_type=CONTENT_TYPES[asked["format"]])
