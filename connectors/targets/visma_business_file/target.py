"""The Visma Business import-file target: each voucher a file where the customer's import job picks it up.

Visma Business runs on the customer's own server and has no API we can reach, so delivery is a file: the format
its import reads (writer.py), in the tenant's encoding, in a folder per tenant — in Bilagsbro's blob container
(`deliveries/TENANT/visma-business/`) or in the tenant's SFTP home (`sftp/TENANT/outbound/visma-business/`), from
where the customer's scheduled import job fetches it. Drafts go to `drafts/` (the import makes a batch someone
updates in Visma Business), direct postings on opt-in to `post/`.

- One file per voucher, named after our reference, so a second delivery of a reference finds the first (`find`).
- Voucher numbers: Visma Business wants integers (VoNo), our references are text: each voucher takes the next
  number of the tenant's counter (table `state`, claimed with an ETag so two workers never share one), starting
  at the setting `first_voucher_number`; the number and the reference travel together in the blob's metadata.
- Nothing of Visma Business can be checked from here (no chart of accounts to ask): preflight checks only that
  every text can be written in the tenant's encoding.
- render() (dry runs, the trace's payload) shows where the file lands, its records field by field in the file's own
  names (`WaVo[].Am`: the paths of the field map, docs/field-map.md) and the exact text deliver() writes from them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from connectors.targets.visma_business_file import writer
from connectors.targets.visma_business_file.descriptor import FOLDER, NAME, NOT_ACCEPTED, VismaBusinessFileSettings
from pipeline.errors import DataError, Problem, TransientError
from pipeline.model import Document, Voucher
from pipeline.names import CONTAINER_DELIVERIES, CONTAINER_SFTP, TABLE_STATE
from pipeline.ports import Conflict, Delivery, Exchange, NotFound, Stale, TargetContext

COUNTER = "visma-business-vono"


def location(tenant: str, reference: str, settings: VismaBusinessFileSettings, *, draft: bool) -> tuple[str, str]:
    """(container, path) of a reference's file; quoting keeps '/' and friends from making folders."""
    folder = "drafts" if draft else "post"
    name = f"{quote(reference, safe='')}.txt"
    if settings.drop == "sftp":
        return CONTAINER_SFTP, f"{tenant}/outbound/{FOLDER}/{folder}/{name}"
    return CONTAINER_DELIVERIES, f"{tenant}/{FOLDER}/{folder}/{name}"


def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    out = ["voucher_type"] if voucher.voucher_type and "voucher_type" in NOT_ACCEPTED else []
    for i, line in enumerate(voucher.lines):
        out += [f"lines[{i}].dimensions.{d}" for d in line.dimensions if d not in ("department", "project")]
    return tuple(out)


class VismaBusinessFileTarget:
    name = NAME

    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self.settings = VismaBusinessFileSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.draft = not self.settings.direct_posting

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems = []
        for document in documents:
            if not isinstance(document, Voucher):
                problems.append(Problem(f"a Visma Business import file here carries vouchers, not {document.type}",
                                        reference=document.reference, code="unsupported-document"))
                continue
            if document.currency != "NOK":
                problems.append(Problem(f"the file carries amounts in the company's currency (NOK), not "
                                        f"{document.currency}", field="currency", reference=document.reference,
                                        code="unsupported-currency"))
            problems += writer.unwritable(document, self.settings)
        return problems

    def render(self, document: Document) -> dict[str, Any]:
        """Where the file lands, its records (the fields of each row, as the field map names them) and its text,
        as deliver() writes it (whose voucher number is then the counter's next, not the first)."""
        voucher = self._voucher(document)
        number = self.settings.first_voucher_number
        container, path = location(self.context.tenant, voucher.reference, self.settings, draft=self.draft)
        return {"file": f"{container}/{path}", "encoding": self.settings.encoding,
                **writer.records(voucher, self.settings, number),
                "text": "".join(f"{row}\r\n" for row in writer.rows(voucher, self.settings, number)),
                "note": "VoNo is the next number of the tenant's counter when the file is written"}

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"a Visma Business import file here carries vouchers, not {document.type}",
                            tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def deliver(self, document: Document) -> Delivery:
        voucher = self._voucher(document)
        problems = self.preflight([voucher])
        if problems:
            raise DataError(f"voucher {voucher.reference} cannot be written as a Visma Business import file: "
                            + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=tuple(problems))
        number = self._number()
        container, path = location(self.context.tenant, voucher.reference, self.settings, draft=self.draft)
        body = writer.encode(voucher, self.settings, number)
        content_type = f"text/plain; charset={self.settings.encoding}"
        started = dt.datetime.now(dt.UTC)
        self.context.blobs.put(container, path, body, content_type=content_type,
                               metadata={"voucher_number": str(number), "reference": quote(voucher.reference)})
        self.context.exchanges.record(Exchange(
            method="PUT", url=f"blob://{container}/{path}", request_headers={"content-type": content_type},
            request_body=body, status=201, response_headers={}, response_body=b"",
            elapsed_ms=(dt.datetime.now(dt.UTC) - started).total_seconds() * 1000, at=started))
        return Delivery(remote_id=f"{container}/{path}", draft=self.draft, not_accepted=not_accepted(voucher),
                        details={"voucher_number": number, "encoding": self.settings.encoding})

    def find(self, reference: str) -> Delivery | None:
        for draft in (True, False):
            container, path = location(self.context.tenant, reference, self.settings, draft=draft)
            try:
                metadata = self.context.blobs.metadata(container, path)
            except NotFound:
                continue
            number = metadata.get("voucher_number")
            return Delivery(remote_id=f"{container}/{path}", draft=draft,
                            details={"voucher_number": int(number)} if number else {})
        return None

    def check(self) -> dict[str, Any]:
        """Nothing to ask: says where the files land, and how they are encoded."""
        container, path = location(self.context.tenant, "x", self.settings, draft=self.draft)
        return {"target": NAME, "folder": f"{container}/{path.rsplit('/', 1)[0]}/", "encoding": self.settings.encoding,
                "voucher_type": self.settings.voucher_type}

    def _number(self) -> int:
        """The next voucher number of the tenant's counter (or the first, without tables: a dry run)."""
        tables = self.context.tables
        first = self.settings.first_voucher_number
        if tables is None:
            return first
        for _ in range(50):
            row = tables.get(TABLE_STATE, self.context.tenant, COUNTER)
            if row is None:
                try:
                    tables.insert(TABLE_STATE, {"PartitionKey": self.context.tenant, "RowKey": COUNTER, "Next": first + 1})
                    return first
                except Conflict:
                    continue
            number = max(int(row["Next"]), first)
            try:
                tables.update(TABLE_STATE, {"PartitionKey": self.context.tenant, "RowKey": COUNTER, "Next": number + 1},
                              etag=row["etag"])
                return number
            except Stale:
                continue
        raise TransientError("could not take a Visma Business voucher number: the counter kept changing",
                             tenant=self.context.tenant, connector=NAME)
