"""Files written the way other programs write them read as the same vouchers as the canonical file.

No public real GBAT10, Visma Business or Visma Global file exists (docs/formats.md), and SIE files
come from dozens of programs. So Hypothesis writes one set of vouchers twice: once canonically, once
with the habits of real exporters — CRLF or LF, a BOM or none, another encoding, trailing separators,
quoted fields that hold the separator, empty vouchers, header variants, columns in another order — and
the reader must give exactly the same vouchers (origin lines aside) and no errors for either.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import connectors
from connectors.sources import gbat10, sie4, visma_business, visma_global
from pipeline.errors import Problem
from pipeline.model import Voucher

EXAMPLES = settings(max_examples=120, deadline=None)


@dataclass(frozen=True)
class Line:
    account: str
    amount: Decimal
    department: str | None
    project: str | None


@dataclass(frozen=True)
class Entry:
    number: int
    date: dt.date
    text: str
    lines: tuple[Line, ...]


TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåÆØÅ 0123456789,;.-\"\\'", min_size=1, max_size=24
               ).map(str.strip).filter(bool)
AMOUNT = st.decimals(min_value=Decimal("-9999999.99"), max_value=Decimal("9999999.99"), places=2,
                     allow_nan=False, allow_infinity=False).filter(lambda d: d != 0)
LINE = st.builds(Line, account=st.integers(1000, 8999).map(str), amount=AMOUNT,
                 department=st.sampled_from([None, "10", "20"]), project=st.sampled_from([None, "P1"]))


@st.composite
def entries(draw: st.DrawFn) -> list[Entry]:
    result = []
    for number in range(1, draw(st.integers(1, 4)) + 1):
        lines = draw(st.lists(LINE, min_size=1, max_size=4))
        balance = -sum((line.amount for line in lines), Decimal(0))
        if balance == 0:
            balance = Decimal("1.00")
            lines.append(Line("7790", Decimal("-1.00"), None, None))
        lines.append(Line("1920", balance, None, None))
        day = draw(st.dates(dt.date(2024, 1, 1), dt.date(2025, 12, 31)))
        result.append(Entry(number, day, draw(TEXT), tuple(lines)))
    return result


def _read(module: Any, data: bytes, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    items = list(module.parse(io.BytesIO(data), file_name="f", options=options or {}))
    errors = [item for item in items if isinstance(item, Problem) and item.is_error]
    assert not errors, errors
    return [item.model_dump(mode="json", exclude={"origin"}) for item in items if isinstance(item, Voucher)]


def _dimensions(line: Line) -> dict[str, str]:
    return {k: v for k, v in (("department", line.department), ("project", line.project)) if v}


def _same(module: Any, canonical: bytes, variant: bytes, expected: list[Entry],
          options: dict[str, Any] | None = None) -> None:
    first = _read(module, canonical, options)
    assert [(v["date"], v["description"], [(line["account"], Decimal(line["amount"]), line["dimensions"])
                                           for line in v["lines"]]) for v in first] == [
        (e.date.isoformat(), e.text, [(line.account, line.amount, _dimensions(line)) for line in e.lines])
        for e in expected]  # the canonical file reads right
    assert _read(module, variant, options) == first
    assert connectors.registry().detect(variant[:65536], "upload.dat") == module.NAME  # and is recognised


# -- GBAT10 -------------------------------------------------------------------------------------------


def _gbat10(items: list[Entry], *, newline: str = "\n", encoding: str = "utf-8", pad: int = 0,
            quote_all: bool = False, final_newline: bool = True, zero_voucher: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator=newline,
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    rows = [[e.number, e.date.strftime("%Y%m%d"), line.account, line.amount, e.text, line.project,
             line.department] for e in items for line in e.lines]
    if zero_voucher:  # a day without sales, as a till may write it
        rows.insert(0, [900, "20240101", "1920", Decimal("0.00"), "Ingen salg", None, None])
    for number, day, account, amount, text, project, department in rows:
        fields = ["GBAT10", number, day, 1, int(day[4:6]), day[:4], account, "", amount] + [""] * 11 + [text] + [
            "", "", project or "", department or ""]
        fields += [""] * pad
        writer.writerow(fields)
    body = out.getvalue()
    return (body if final_newline else body.removesuffix(newline)).encode(encoding)


@EXAMPLES
@given(items=entries(), newline=st.sampled_from(["\n", "\r\n"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), pad=st.sampled_from([0, 1, 5]),
       quote_all=st.booleans(), final_newline=st.booleans(), zero_voucher=st.booleans())
def test_gbat10_as_others_write_it(items: list[Entry], **style: Any) -> None:
    _same(gbat10, _gbat10(items), _gbat10(items, **style), items)


# -- Visma Business -----------------------------------------------------------------------------------

VB_FIELDS = ("VoNo", "VoDt", "Txt", "DbAcNo", "CrAcNo", "Am", "R1", "R2")


def _vb_value(value: str, name: str) -> str:
    return '"' + value.replace('"', '""') + '"' if name in ("Txt", "R2") else value


def _visma_business(items: list[Entry], *, newline: str = "\n", separator: str = " ",
                    order: tuple[str, ...] = VB_FIELDS, moment_heading: bool = False, firm: bool = False,
                    batch: bool = False, oem: bool = False, zero_voucher: bool = False,
                    blank_zeros: bool = False) -> bytes:
    """`blank_zeros`: with commas between values, a 0 may be left out (",,"), as the docs allow."""
    zero = "" if blank_zeros and "," in separator else "0"
    lines = ["@IMPORT_METHOD(3)"] + (["@CONVERT_FROM_OEM_TO_ANSI(1)"] if oem else []) + (
        ["@FIRM_BEGIN(1)"] if firm else [])
    if batch:
        lines += ["@WaBnd(ValDt)", "20250101"]
    lines += ["@WaVo", ",".join(order), "@WaVo"] if moment_heading else [f"@WaVo({','.join(order)})"]
    rows = [{"VoNo": str(e.number), "VoDt": e.date.strftime("%Y%m%d"), "Txt": e.text,
             "DbAcNo": line.account if line.amount > 0 else "0", "CrAcNo": line.account if line.amount < 0 else "0",
             "Am": str(abs(line.amount)), "R1": line.department or "", "R2": line.project or ""}
            for e in items for line in e.lines]
    if zero_voucher:
        rows.insert(0, {"VoNo": "900", "VoDt": "20240101", "Txt": "Ingen salg", "DbAcNo": "1920", "CrAcNo": "0",
                        "Am": "0.00", "R1": "", "R2": ""})
    lines += [separator.join(_vb_value(row[name], name) if row[name] not in ("", "0") or name in ("Txt", "R2")
                             else zero for name in order) for row in rows]
    lines += ["@FIRM_END()"] if firm else []
    return (newline.join(lines) + newline).encode("cp865" if oem else "cp1252")


@EXAMPLES
@given(items=entries(), newline=st.sampled_from(["\n", "\r\n"]), separator=st.sampled_from([" ", ",", ", ", "\t"]),
       order=st.permutations(VB_FIELDS).map(tuple), moment_heading=st.booleans(), firm=st.booleans(),
       batch=st.booleans(), oem=st.booleans(), zero_voucher=st.booleans(), blank_zeros=st.booleans())
def test_visma_business_as_others_write_it(items: list[Entry], **style: Any) -> None:
    _same(visma_business, _visma_business(items), _visma_business(items, **style), items)


# -- Visma Global -------------------------------------------------------------------------------------

VG_FIELDS = ("VoucherNo", "VoucherDate", "VoucherText", "DebitAccountNo", "CreditAccountNo", "Amount", "DepNo",
             "ProjectNo")
VG_EXTRA = ("EntryDate", "VoucherTypeNo", "KID", "DueDate", "SAFTStdVatCode", "CustomerNo", "Name")


def _visma_global(items: list[Entry], *, newline: str = "\n", encoding: str = "utf-8",
                  order: tuple[str, ...] = VG_FIELDS, extra: tuple[str, ...] = (), trailing: bool = False,
                  quote_all: bool = False, date_format: str = "%Y%m%d", zero_voucher: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    columns = list(order) + list(extra)
    writer.writerow(columns + ([""] if trailing else []))
    rows = [{"VoucherNo": e.number, "VoucherDate": e.date.strftime(date_format), "VoucherText": e.text,
             "DebitAccountNo": line.account if line.amount > 0 else "",
             "CreditAccountNo": line.account if line.amount < 0 else "", "Amount": abs(line.amount),
             "DepNo": line.department or "", "ProjectNo": line.project or ""} for e in items for line in e.lines]
    if zero_voucher:
        rows.insert(0, {"VoucherNo": 900, "VoucherDate": dt.date(2024, 1, 1).strftime(date_format),
                        "VoucherText": "Ingen salg", "DebitAccountNo": "1920", "CreditAccountNo": "",
                        "Amount": "0.00", "DepNo": "", "ProjectNo": ""})
    for row in rows:
        writer.writerow([row.get(name, "") for name in columns] + ([""] if trailing else []))
    return out.getvalue().encode(encoding)


@EXAMPLES
@given(items=entries(), newline=st.sampled_from(["\n", "\r\n"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), order=st.permutations(VG_FIELDS).map(tuple),
       extra=st.lists(st.sampled_from(VG_EXTRA), unique=True, max_size=4).map(tuple), trailing=st.booleans(),
       quote_all=st.booleans(), date_format=st.sampled_from(["%Y%m%d", "%d.%m.%Y", "%Y-%m-%d"]),
       zero_voucher=st.booleans())
def test_visma_global_as_others_write_it(items: list[Entry], **style: Any) -> None:
    _same(visma_global, _visma_global(items), _visma_global(items, **style), items)


# -- SIE ----------------------------------------------------------------------------------------------


def _sie_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sie(items: list[Entry], *, newline: str = "\n", encoding: str = "cp865", indent: str = "",
         gap: str = " ", quoted_numbers: bool = False, header: str = "minimal", row_defaults: bool = False,
         objects_style: str = "quoted", amounts: str = "two decimals", audit_rows: bool = False,
         empty_vouchers: bool = False) -> bytes:
    lines = ["#FLAGGA 0"]
    if header == "full":
        lines += ['#PROGRAM "BL Administration" 2024.3.104', "#FORMAT PC8", '#GEN 20250114 "1 Åsa"',
                  "#SIETYP 4", '#ORGNR 5567123456', '#FNAMN "Bærum Rør og Varme AB"', "#RAR 0 20240101 20251231",
                  "#KPTYP EUBAS97", "#VALUTA SEK"]
        lines += [f'#KONTO {a} "Konto {a} på lager"'
                  for a in sorted({line.account for e in items for line in e.lines})]
    else:
        lines += ["#PROGRAM Kasse 1.0", "#FORMAT PC8", "#SIETYP 4", '#FNAMN "Bærum Rør og Varme AB"',
                  "#VALUTA SEK"]
    for e in items:
        day = e.date.strftime("%Y%m%d")
        series, number = ('"A"', f'"{e.number}"') if quoted_numbers else ("A", str(e.number))
        if empty_vouchers:
            lines += [gap.join(["#VER", series, f"{900 + e.number}", day, '"Makulerad"']), "{", "}"]
        lines += [gap.join(["#VER", series, number, day, _sie_text(e.text)] + (["20250114"] if row_defaults else [])),
                  "{"]
        for line in e.lines:
            pairs = [("1", line.department), ("6", line.project)]
            pairs = [(d, o) for d, o in pairs if o]
            if objects_style == "reversed":
                pairs.reverse()
            quote = (lambda o: o) if objects_style == "bare" else (lambda o: f'"{o}"')
            objects = "{" + " ".join(f"{d} {quote(o)}" for d, o in pairs) + "}"
            amount = f"{line.amount:.2f}"
            if amounts == "shortest":
                amount = format(line.amount.normalize(), "f")
            fields = ["#TRANS", line.account, objects, amount]
            if row_defaults:  # BL writes the voucher's date and text (or "") on every row
                fields += [day, _sie_text(e.text), "1", '"Åsa"']
            if audit_rows:
                lines.append(indent + gap.join(["#BTRANS", "2990", "{}", "12.00"]))
                lines.append(indent + gap.join(["#RTRANS"] + fields[1:]))
            lines.append(indent + gap.join(fields))
        lines.append("}")
    return (newline.join(lines) + newline).encode(encoding)


@EXAMPLES
@given(items=entries(), newline=st.sampled_from(["\n", "\r\n"]),
       encoding=st.sampled_from(["cp865", "utf-8", "utf-8-sig", "cp1252"]), indent=st.sampled_from(["", "  ", "\t"]),
       gap=st.sampled_from([" ", "\t", "  "]), quoted_numbers=st.booleans(), header=st.sampled_from(["minimal", "full"]),
       row_defaults=st.booleans(), objects_style=st.sampled_from(["quoted", "bare", "reversed"]),
       amounts=st.sampled_from(["two decimals", "shortest"]), audit_rows=st.booleans(), empty_vouchers=st.booleans())
def test_sie_as_others_write_it(items: list[Entry], **style: Any) -> None:
    """Same vouchers, and the same references: the content hash does not see how a file is written."""
    _same(sie4, _sie(items), _sie(items, **style), items)
