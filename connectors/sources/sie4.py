"""SIE 4 (the Swedish accounting exchange format): `#VER` blocks of `#TRANS` rows, read by the tabular reader.

Format: SIE filformat 4B/4C (https://sie.se/wp-content/uploads/2020/05/SIE_filformat_ver_4B_ENGLISH.pdf),
reference/norway-standards.md §5.4. Tagged lines, space- or tab-separated fields, "quoted" text with
backslash escapes, `{…}` object lists; amounts signed with '.' decimals; dates YYYYMMDD.

`#FORMAT PC8` names CP437, but CP437 has no ø/Ø: we read PC8 as CP865 (identical for every Swedish
letter), and files that are really UTF-8 as UTF-8. SIE has no VAT codes on lines: VAT lines stay
plain postings. Object lists map to dimensions through the `sie_dimensions` option
(default: dimension 1 → department, 6 → project). The currency is `#VALUTA`'s; without it, the
`currency` option, else NOK [unverified: the 4B spec is said to assume SEK; Norwegian producers?]. Only `#TRANS` rows count; `#RTRANS`/`#BTRANS` are
the audit trail of added/removed rows (an `#RTRANS` is always repeated as a `#TRANS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import IO, Any

from connectors.sources.tabular import Columns, Layout, Record, read
from pipeline.errors import Problem
from pipeline.model import Document
from pipeline.norway.text import looks_utf8

NAME = "sie4"
DEFAULT_DIMENSIONS = {"1": "department", "6": "project"}

_TOKEN = re.compile(r'"((?:\\.|[^"\\])*)"|(\{[^}]*\})|(\S+)')
_PC8 = re.compile(rb"^#FORMAT\s+PC8\b", re.MULTILINE | re.IGNORECASE)


def tokens(line: str) -> list[str]:
    """`#TRANS 1930 {1 "10"} -25.00 "Kaffe \\"svart\\""` → ['#TRANS', '1930', '{1 "10"}', '-25.00', 'Kaffe "svart"']."""
    values: list[str] = []
    for match in _TOKEN.finditer(line):
        quoted, objects, bare = match.groups()
        if quoted is not None:
            values.append(re.sub(r"\\(.)", r"\1", quoted))
        else:
            values.append(objects if objects is not None else bare)
    return values


def objects(text: str) -> dict[str, str]:
    """`{1 "10" 6 "P1"}` → {'1': '10', '6': 'P1'}."""
    inner = tokens(text.strip()[1:-1])
    if len(inner) % 2:
        raise ValueError(f"object list {text!r} does not pair dimensions with objects")
    return dict(zip(inner[::2], inner[1::2], strict=True))


def _declaration(head: bytes) -> str | None:
    return "pc8" if _PC8.search(head) and not looks_utf8(head) else None


def _records(text: IO[str], layout: Layout, options: Mapping[str, Any]) -> Iterator[Record | Problem]:
    dimensions = {str(k): str(v) for k, v in options.get("sie_dimensions", DEFAULT_DIMENSIONS).items()}
    currency = str(options.get("currency", "NOK"))
    voucher: dict[str, str] | None = None
    open_block = False
    rows = 0
    for number, raw in enumerate(text, start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [part.strip() for part in tokens(line)]
        label = parts[0].upper() if parts else ""
        if label == "#VALUTA" and len(parts) > 1 and voucher is None:
            currency = parts[1].upper()
        elif label == "#VER":
            if voucher is not None:
                yield Record(int(voucher["_line"]), {**voucher, "_key": voucher["_line"]}, "#VER without its { … } block of rows", "#VER")
            series, vernr, date, text_ = (parts[1:] + [""] * 4)[:4]
            voucher = {"_line": str(number), "series": series, "number": vernr, "date": date,
                       "text": text_, "voucher": f"{series}{'-' if series else ''}{vernr}", "currency": currency}
            if not vernr:
                voucher["voucher"] = ""  # 4I files may leave vernr empty: the reader uses file:line
            open_block, rows = False, 0
        elif label == "{" and voucher is not None and not open_block:
            open_block = True
        elif label == "}" and voucher is not None and open_block:
            if rows == 0:
                yield Problem("voucher has no #TRANS rows", line=int(voucher["_line"]),
                              reference=voucher["voucher"] or None, code="invalid")
            voucher, open_block = None, False
        elif label == "#TRANS" and voucher is not None and open_block:
            rows += 1
            row = {**voucher, "_key": voucher["_line"], "account": parts[1] if len(parts) > 1 else "",
                      "amount": parts[3] if len(parts) > 3 else "",
                      "row_text": parts[5] if len(parts) > 5 else ""}
            if len(parts) < 4 or not parts[2].startswith("{"):
                yield Record(number, row, "#TRANS needs: account {objects} amount", "#TRANS")
                continue
            try:
                for dimension, value in objects(parts[2]).items():
                    if dimension in dimensions:
                        row[f"dimension:{dimensions[dimension]}"] = value
            except ValueError as exc:
                yield Record(number, row, str(exc), "objects")
                continue
            yield Record(number, row)
        elif label in ("#RTRANS", "#BTRANS") and open_block:
            continue
        elif open_block and voucher is not None:
            yield Record(number, {**voucher, "_key": voucher["_line"]},
                         f"unexpected {line[:30]!r} inside a voucher", "#VER")
        elif label in ("{", "}") or (label and not label.startswith("#")):
            yield Problem(f"unexpected {line[:30]!r} outside a voucher", line=number, code="invalid")
    if voucher is not None:
        yield Record(int(voucher["_line"]), {**voucher, "_key": voucher["_line"]},
                     "the file ends inside this voucher (truncated?)", "#VER")


LAYOUT = Layout(
    format=NAME,
    columns=Columns(voucher_number="voucher", date="date", amount="amount", account="account",
                    voucher_text="text", text="row_text", currency="currency", voucher_line="_line"),
    records=_records,
    voucher_key=("_key",),
    declaration=_declaration,
    prefixed_dimensions=True,
)


def sniff(head: bytes, file_name: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"#FLAGGA") or b"\n#SIETYP" in head


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    return read(LAYOUT, data, file_name=file_name, options=options)
