"""A browser's file upload (multipart/form-data, RFC 7578) read into its text fields and its files, so the dry-run
page takes a file without JavaScript; the CSRF token comes in the same form and is checked like any other."""

from __future__ import annotations

import re
from typing import Any

from api.http import Request

MAX_FIELD = 64 * 1024  # a text field's characters, at most (a file is bounded by the host's request size)
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?')
_PARAM = re.compile(r'(\w+\*?)="((?:[^"\\]|\\.)*)"|(\w+\*?)=([^;\s]+)')


def _disposition(value: str) -> dict[str, str]:
    """The name and filename of a part (Chromium and Firefox send the file name as UTF-8, `"` as %22)."""
    from urllib.parse import unquote

    found: dict[str, str] = {}
    for quoted_key, quoted, bare_key, bare in _PARAM.findall(value):
        key, text = (quoted_key, quoted.replace('\\"', '"')) if quoted_key else (bare_key, bare)
        if key.endswith("*") and "''" in text:  # RFC 5987 form, should a client send it
            key, text = key[:-1], unquote(text.split("''", 1)[1])
        found[key.lower()] = text.replace("%22", '"')
    return found


def fields(request: Request) -> dict[str, Any]:
    """The text fields of a multipart form, and its files under "\\0files": field name → (file name, bytes)."""
    found = _BOUNDARY.search(request.headers.get("content-type", ""))
    if found is None:
        return {}
    delimiter = b"--" + found.group(1).encode("latin-1")
    text: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in request.body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, separator, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        data = data.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            header, _, value = line.partition(":")
            headers[header.strip().lower()] = value.strip()
        params = _disposition(headers.get("content-disposition", ""))
        name = params.get("name", "")
        if not name:
            continue
        if "filename" in params:
            if params["filename"] or data:
                files[name] = (params["filename"].replace("\\", "/").rsplit("/", 1)[-1], data)
        else:
            text[name] = data[:MAX_FIELD * 4].decode("utf-8", "replace")[:MAX_FIELD]
    text["\0files"] = files
    return text
