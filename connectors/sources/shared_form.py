"""Shared-form JSON as a file: what a vendor drops over SFTP or uploads instead of calling the API.

The same checks as `POST /api/v1/documents`, with problems located by file and line. The file is read
as a stream, each document checked and handed on as it is read, so a file may be as big as a file
upload may be (100 MB); a problem with the JSON itself (a cut-off file) comes after the documents
before it, as it does in every other format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, Any

from connectors.sources.options import NoOptions
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem
from pipeline.model import Document
from pipeline.shared_form import read_documents

NAME = "shared-form"


def sniff(head: bytes, file_name: str) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return file_name.lower().endswith(".json") or text in (b"[", b"{")


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    said = False
    for item in read_documents(data, file_name, origin=NAME):
        said = True
        yield item if isinstance(item, Problem) else item[2]
    if not said:  # silence would look like success
        yield Problem("no documents in this file", file=file_name, code="empty")


FORMAT = FormatDescriptor(
    name=NAME,
    title="Shared-form JSON",
    settings=NoOptions,
    parse=parse,
    sniff=sniff,
    notes="the API's format as a file",
)
