"""Shared-form JSON as a file: what a vendor drops over SFTP or uploads instead of calling the API.

The same checks as `POST /api/v1/documents`, with problems located by file and line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, Any

from connectors.sources.options import NoOptions
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem
from pipeline.intake import MAX_DOCUMENTS_PER_REQUEST, parse_shared_form
from pipeline.model import Document, Origin

NAME = "shared-form"
MAX_BYTES = 50 * 1024 * 1024  # a JSON document is parsed whole; bigger batches belong in several files


def sniff(head: bytes, file_name: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return file_name.lower().endswith(".json") or text in (b"[", b"{")


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    body = data.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        yield Problem(f"shared-form files are limited to {MAX_BYTES} bytes and {MAX_DOCUMENTS_PER_REQUEST} "
                      "documents: split the file", file=file_name, code="too-large")
        return
    good, problems = parse_shared_form(body, file=file_name)
    for _, line, document in good:
        yield document.model_copy(update={"origin": Origin(format=NAME, file=file_name, line=line)})
    yield from problems
    if not good and not problems:  # "[]" or {"documents": []}: silence would look like success
        yield Problem("no documents in this file", file=file_name, code="empty")


FORMAT = FormatDescriptor(
    name=NAME,
    title="Shared-form JSON",
    settings=NoOptions,
    parse=parse,
    sniff=sniff,
    notes="the API's format as a file",
)
