"""The open-format file target: each delivered document written as shared-form JSON to Blob Storage.

It needs no outside system, so it is the first target and the one every tenant starts with. Drafts
land under `<tenant>/drafts/`, direct postings (on opt-in) under `<tenant>/posted/`; the blob name is
the document's reference, so a second delivery of the same reference finds the first. The delivered blob
is its own record (kept with the deliveries, named in the trace's `remote_id`): no exchange is written
beside it, which would only repeat it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from connectors.targets.file.descriptor import NAME, FileSettings
from pipeline.errors import Problem
from pipeline.model import Document
from pipeline.ports import Delivery, NotFound, TargetContext
from pipeline.records.names import CONTAINER_DELIVERIES

# Fields of the shared form this target cannot carry: none, it writes the shared form itself.
NOT_ACCEPTED: dict[str, str] = {}


def blob_path(tenant: str, reference: str, *, draft: bool) -> str:
    """Where a reference lands; quoting keeps '/' and friends from making folders."""
    folder = "drafts" if draft else "posted"
    return f"{tenant}/{folder}/{quote(reference, safe='')}.json"


def render(document: Document) -> dict[str, Any]:
    return document.model_dump(mode="json", exclude_none=True)


class FileTarget:
    name = NAME

    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self.draft = not FileSettings.read(context.settings, tenant=context.tenant, connector=NAME).direct_posting

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        return []  # a file accepts every valid shared-form document

    def render(self, document: Document) -> dict[str, Any]:
        return render(document)

    def deliver(self, document: Document) -> Delivery:
        path = blob_path(self.context.tenant, document.reference, draft=self.draft)
        body = json.dumps(render(document), ensure_ascii=False, indent=2).encode("utf-8")
        self.context.blobs.put(
            CONTAINER_DELIVERIES, path, body, content_type="application/json; charset=utf-8"
        )
        return Delivery(remote_id=f"{CONTAINER_DELIVERIES}/{path}", draft=self.draft)

    def find(self, reference: str) -> Delivery | None:
        for draft in (True, False):
            path = blob_path(self.context.tenant, reference, draft=draft)
            try:
                self.context.blobs.metadata(CONTAINER_DELIVERIES, path)
            except NotFound:
                continue
            return Delivery(remote_id=f"{CONTAINER_DELIVERIES}/{path}", draft=draft)
        return None

    def check(self) -> dict[str, Any]:
        """Nothing to ask: the platform's own Blob Storage holds the files."""
        folder = "drafts" if self.draft else "posted"
        return {"target": NAME, "folder": f"{CONTAINER_DELIVERIES}/{self.context.tenant}/{folder}/"}


def connect(context: TargetContext) -> FileTarget:
    return FileTarget(context)
