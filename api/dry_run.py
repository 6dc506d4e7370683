"""`POST /api/v1/dry-run`: a file through everything but delivery for the key's tenant (pipeline/dry_run.py) —
the summary of the whole file and one page of its documents with their payloads; nothing is delivered or kept.

A handler in the shape of api/http.py. Another page of the same file is asked for by sending it again with
`offset` (the file is read again, in flat memory: nothing of it is kept between requests).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from api.http import MAX_FILE_BODY, Request, Response, authenticate, error
from pipeline.dry_run import DEFAULT_PAGE, MAX_PAGE, upload
from pipeline.errors import BilagsbroError, Problem

if TYPE_CHECKING:
    from pipeline.ports import Stores
    from pipeline.registry import Connectors

KNOWN = ("format", "name", "offset", "limit")


def post_dry_run(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """200 with the summary, the problems (file, line, field) and a page of documents with their payloads; 400 for
    parameters it cannot take or an empty file; 413 over the size of a file upload."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    unknown = sorted(set(request.query) - set(KNOWN))
    if unknown:
        return error(400, f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(KNOWN)}",
                     [Problem("unknown parameter", field=name) for name in unknown])
    format = request.query.get("format")
    if format is not None and format not in connectors.sources:
        return error(400, f"unknown format {format!r}; known: {', '.join(sorted(connectors.sources))}",
                     [Problem("unknown format", field="format", code="unknown-format")])
    numbers: dict[str, int] = {}
    for name, default, top in (("offset", 0, 10**9), ("limit", DEFAULT_PAGE, MAX_PAGE)):
        text = request.query.get(name)
        if text is not None and not (text.isdigit() and len(text) <= 10):
            return error(400, f"{name} is a whole number", [Problem("not a whole number", field=name)])
        numbers[name] = int(text) if text is not None else default
        if not (0 if name == "offset" else 1) <= numbers[name] <= top:
            return error(400, f"{name} is out of range (limit: 1 to {MAX_PAGE})", [Problem("out of range", field=name)])
    if len(request.body) > MAX_FILE_BODY:
        return error(413, f"file of {len(request.body)} bytes exceeds {MAX_FILE_BODY}; run `bilagsbro dry-run` on it")
    if not request.body:
        return error(400, "the file is empty: nothing to run", [Problem("the file is empty", code="empty")])
    name = request.query.get("name") or f"upload.{format or 'dat'}"
    try:
        found = upload(stores, connectors, tenant, io.BytesIO(request.body), file_name=name, format=format,
                       offset=numbers["offset"], limit=numbers["limit"])
    except BilagsbroError as exc:  # the tenant's connection cannot be asked: say so, as the stages would
        return error(422, exc.message, list(exc.problems) or [Problem(exc.message, code="unchecked")])
    return Response(200, found)
