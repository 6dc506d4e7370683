"""Dry run: a file uploaded in the browser through everything but delivery for the client — its documents, totals
per account and VAT code, problems with file, line and field, and the exact payloads for the client's accounting
system. Nothing is delivered and nothing of the file is kept: another page of a large file is the file sent again.

The run is pipeline.dry_run.upload, as POST /api/v1/dry-run's; this module takes the upload and shows the answer.
"""

from __future__ import annotations

import io
import json
from typing import Any

from api.http import MAX_FILE_BODY, Response
from pipeline.dry_run import DEFAULT_PAGE, upload
from pipeline.errors import BilagsbroError
from pipeline.records.tenants import TenantRegistry
from workspace.router import Visit, render

PAGE = DEFAULT_PAGE  # documents shown per page


def _page(visit: Visit, status: int = 200, **values: Any) -> Response:
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    shown: dict[str, Any] = {"result": None, "error": "", "format": "", "offset": 0}
    shown.update(values)
    descriptor = visit.connectors.descriptors.get(tenant.target)
    return render(visit, "dry_run.html", status, tenant=tenant, formats=sorted(visit.connectors.sources),
                  system=str(getattr(descriptor, "title", None) or tenant.target), pretty=_pretty, **shown)


def form(visit: Visit) -> Response:
    return _page(visit)


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def run(visit: Visit) -> Response:
    """The uploaded file's dry run (its format named or detected), from document `offset`, a page of them."""
    format = visit.form.get("format", "").strip() or None
    offset_text = visit.form.get("offset", "").strip()  # the form counts documents from 1
    offset = max(int(offset_text) - 1, 0) if offset_text.isdigit() and len(offset_text) <= 9 else 0
    keep: dict[str, Any] = {"format": format or "", "offset": offset}
    if format is not None and format not in visit.connectors.sources:
        return _page(visit, 400, error=f"{visit.t('format')}: {format}?", **{**keep, "format": ""})
    name, data = visit.files.get("file", ("", b""))
    if not data:
        return _page(visit, 400, error=visit.t("no_file"), **keep)
    if len(data) > MAX_FILE_BODY:
        return _page(visit, 413, error=visit.t("too_large"), **keep)
    try:
        found = upload(visit.stores, visit.connectors, visit.params["client"], io.BytesIO(data),
                       file_name=name or f"upload.{format or 'dat'}", format=format, offset=offset, limit=PAGE)
    except BilagsbroError as exc:  # the accounting system cannot be asked: say so, as the API does (422)
        return _page(visit, 422, error=exc.message, **keep)
    return _page(visit, result=found, **{**keep, "format": format or found.get("format") or ""})
