"""Valid files of every source format, generated with a map of where each voucher and value sits.

The fuzzer (bench/fuzz.py) and its CI version (tests/sources/test_fuzz.py) break these files on
purpose; knowing each voucher's byte span, and the spans of its amounts and texts, is what lets the
oracle in `mutations.py` say which vouchers a mutation touched and so what a correct reader must
still deliver. Files hold 2-6 vouchers with æøå in their texts, in the encodings real exporters use.
"""

from __future__ import annotations

import codecs
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

WORDS = ("Blåbær", "Ørret", "Smørbrød", "Æbleskiver", "Grünerløkka", "Tromsø", "Kåre", "Brød", "Kaffe",
         "Øl", "Ålesund", "Sjøsprøyt", "Fårikål", "Kvikklunsj")


@dataclass(frozen=True)
class SeedVoucher:
    """Where one voucher sits in its file: bytes [start, end), lines first..last, and its values."""

    reference: str
    start: int
    end: int
    first_line: int
    last_line: int
    amounts: tuple[tuple[int, int], ...]  # byte spans of amount values (without quotes)
    texts: tuple[tuple[int, int], ...]  # byte spans of free-text values (inside their quotes, if any)


@dataclass(frozen=True)
class Seed:
    format: str
    data: bytes
    encoding: str  # the codec the text was written in
    options: dict[str, Any]
    vouchers: tuple[SeedVoucher, ...]
    quoting: str  # how the format writes a text holding its separators: csv, sie, visma, xml, json
    separator: str = ";"


@dataclass
class _Builder:
    """Writes a file piece by piece, remembering the byte offset and line of every piece."""

    encoding: str
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    line: int = 1
    amounts: list[tuple[int, int]] = field(default_factory=list)
    texts: list[tuple[int, int]] = field(default_factory=list)
    vouchers: list[SeedVoucher] = field(default_factory=list)
    _open: tuple[str, int, int] | None = None

    def raw(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def add(self, text: str) -> tuple[int, int]:
        data = text.encode(self.encoding)
        start = self.size
        self.raw(data)
        self.line += text.count("\n")
        return start, self.size

    def amount(self, text: str) -> None:
        self.amounts.append(self.add(text))

    def text(self, text: str) -> None:
        self.texts.append(self.add(text))

    def begin(self, reference: str) -> None:
        self._open = (reference, self.size, self.line)
        self.amounts, self.texts = [], []

    def end(self) -> None:
        assert self._open is not None
        reference, start, line = self._open
        last = self.line - 1 if self.parts and self.parts[-1].endswith(b"\n") else self.line
        self.vouchers.append(SeedVoucher(reference, start, self.size, line, last, tuple(self.amounts),
                                         tuple(self.texts)))
        self._open = None

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _amounts(rng: random.Random, count: int) -> list[Decimal]:
    """`count` non-zero amounts that add up to zero."""
    values = [Decimal(rng.randint(1, 9_999_999)) / 100 * rng.choice((1, -1)) for _ in range(count - 1)]
    last = -sum(values, Decimal(0))
    if last == 0:
        values[0] += Decimal("1.00")
        last = -sum(values, Decimal(0))
    return [*values, last]


def _words(rng: random.Random, n: int = 2) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _date(rng: random.Random) -> dt.date:
    return dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 360))


def _account(amount: Decimal, rng: random.Random) -> tuple[str, str]:
    """(account, format VAT code) for a line: revenue with VAT 3, costs with VAT 1, bank without."""
    return rng.choice((("3000", "3"), ("1920", ""), ("1500", ""))) if amount < 0 else \
        rng.choice((("4300", "1"), ("1920", ""), ("6800", "1")))


# -- tabular formats ---------------------------------------------------------------------------------


def gbat10(rng: random.Random) -> Seed:
    encoding = rng.choice(("cp1252", "utf-8", "utf-8-sig"))
    b = _Builder("utf-8" if encoding == "utf-8-sig" else encoding)
    if encoding == "utf-8-sig":
        b.raw(codecs.BOM_UTF8)
    for n in range(rng.randint(2, 6)):
        number, day = str(1000 + n), _date(rng)
        b.begin(number)
        for amount in _amounts(rng, rng.randint(2, 4)):
            account, vat = _account(amount, rng)
            b.add(f"GBAT10;{number};{day:%Y%m%d};1;{day.month};{day.year};{account};{vat};")
            b.amount(f"{amount:.2f}")
            b.add(";" * 12)
            b.text(_words(rng))
            b.add(";" * 9 + "\r\n")
        b.end()
    return Seed("gbat10", b.bytes(), encoding, {"vat_map": {"3": "3", "1": "1"}}, tuple(b.vouchers), "csv", ";")


def visma_global(rng: random.Random) -> Seed:
    encoding = rng.choice(("cp1252", "utf-8-sig"))
    b = _Builder("utf-8" if encoding == "utf-8-sig" else encoding)
    if encoding == "utf-8-sig":
        b.raw(codecs.BOM_UTF8)
    b.add("VoucherNo,VoucherDate,VoucherTypeNo,VoucherText,DebitAccountNo,CreditAccountNo,VATCode,Amount,"
          "SAFTStdVatCode,SAFTStdVatCodeCredit\r\n")
    for n in range(rng.randint(2, 6)):
        number, day = str(500 + n), _date(rng)
        b.begin(number)
        for _ in range(rng.randint(1, 3)):
            debit, credit = rng.choice((("1920", "3000"), ("4300", "2400"), ("1500", "3000")))
            b.add(f"{number},{day:%Y%m%d},1,")
            b.text(_words(rng))
            b.add(f",{debit},{credit},,")
            b.amount(f"{Decimal(rng.randint(1, 9_999_999)) / 100:.2f}")
            b.add(f",{'1' if debit == '4300' else ''},{'3' if credit == '3000' else ''}\r\n")
        b.end()
    return Seed("visma-global", b.bytes(), encoding, {}, tuple(b.vouchers), "csv", ",")


def visma_business(rng: random.Random) -> Seed:
    oem = rng.random() < 0.4
    b = _Builder("cp865" if oem else "cp1252")
    b.add("@IMPORT_METHOD(3)\r\n")
    if oem:
        b.add("@CONVERT_FROM_OEM_TO_ANSI(1)\r\n")
    b.add("@WaVo(VoNo,VoDt,VoTp,Txt,DbAcNo,DbTxCd,CrAcNo,CrTxCd,Am)\r\n")
    for n in range(rng.randint(2, 6)):
        number, day = str(1 + n), _date(rng)
        b.begin(number)
        for _ in range(rng.randint(1, 3)):
            debit, dvat, credit, cvat = rng.choice((("1920", "0", "3000", "3"), ("4300", "1", "2400", "0"),
                                                    ("1500", "0", "3000", "3")))
            b.add(f'{number} {day:%Y%m%d} 1 "')
            b.text(_words(rng))
            b.add(f'" {debit} {dvat} {credit} {cvat} ')
            b.amount(f"{Decimal(rng.randint(1, 9_999_999)) / 100:.2f}")
            b.add("\r\n")
        b.end()
    return Seed("visma-business", b.bytes(), b.encoding, {"vat_map": {"3": "3", "1": "1"}}, tuple(b.vouchers),
                "visma", " ")


def sie4(rng: random.Random) -> Seed:
    pc8 = rng.random() < 0.6
    b = _Builder("cp865" if pc8 else "utf-8")
    b.add("#FLAGGA 0\r\n#PROGRAM \"Kasse Nord\" 1.0\r\n" + ("#FORMAT PC8\r\n" if pc8 else "")
          + "#SIETYP 4\r\n#FNAMN \"Kafé Øst AS\"\r\n#VALUTA NOK\r\n")
    for n in range(rng.randint(2, 6)):
        day = _date(rng)
        b.begin(f"A-{n + 1}")
        b.add(f'#VER A {n + 1} {day:%Y%m%d} "')
        b.text(_words(rng))
        b.add('"\r\n{\r\n')
        for amount in _amounts(rng, rng.randint(2, 4)):
            account, _ = _account(amount, rng)
            objects = rng.choice(("{}", '{1 "10"}', '{6 "P1"}'))
            b.add(f"   #TRANS {account} {objects} ")
            b.amount(f"{amount:.2f}")
            b.add(f' {day:%Y%m%d} "')
            b.text(_words(rng, 1))
            b.add('"\r\n')
        b.add("}\r\n")
        b.end()
    return Seed("sie4", b.bytes(), b.encoding, {}, tuple(b.vouchers), "sie", " ")


# -- SAF-T (XML) ------------------------------------------------------------------------------------------


def saft_cash_register(rng: random.Random) -> Seed:
    b = _Builder("utf-8")
    b.add('<?xml version="1.0" encoding="UTF-8"?>\n<auditfile xmlns="urn:StandardAuditFile-Taxation-CashRegister:NO">\n'
          "<header><fiscalYear>2025</fiscalYear><curCode>NOK</curCode></header>\n<company>\n"
          "<companyIdent>999999999</companyIdent><companyName>Kaffebaren på hjørnet AS</companyName>\n"
          "<vatCodeDetails>\n"
          "<vatCodeDetail><vatCode>H</vatCode><standardVatCode>3</standardVatCode></vatCodeDetail>\n"
          "<vatCodeDetail><vatCode>M</vatCode><standardVatCode>31</standardVatCode></vatCodeDetail>\n"
          "</vatCodeDetails>\n<basics>\n"
          "<basic><basicType>12</basicType><basicID>CASH</basicID><predefinedBasicID>12001</predefinedBasicID>"
          "<basicDesc>Kontant</basicDesc></basic>\n"
          "<basic><basicType>12</basicType><basicID>CARD</basicID><predefinedBasicID>12002</predefinedBasicID>"
          "<basicDesc>Bankkort</basicDesc></basic>\n</basics>\n"
          f"<location>\n<name>Butikk {_words(rng, 1)}</name>\n")
    first = _date(rng)
    for n in range(rng.randint(2, 5)):  # a day of its own per register: no two settlements can merge
        register, day = f"K{n + 1}", first + dt.timedelta(days=n)
        b.begin(f"saft-cr-999999999-{register}-{day.isoformat()}")
        b.add(f"<cashregister>\n<registerID>{register}</registerID>\n")
        for t in range(rng.randint(1, 3)):
            b.add(f"<cashtransaction>\n<transID>{n}-{t}</transID><transDate>{day.isoformat()}</transDate>\n")
            total = Decimal(0)
            for line in range(rng.randint(1, 3)):
                gross = Decimal(rng.randint(100, 999_999)) / 100
                code, rate = rng.choice((("H", Decimal("0.2")), ("M", Decimal("0.15") / Decimal("1.15"))))
                vat = (gross * rate).quantize(Decimal("0.01"))
                total += gross
                b.add(f"<ctLine><lineID>{line}</lineID><lineAmntIn>")
                b.amount(f"{gross:.2f}")
                b.add(f"</lineAmntIn><amntTp>C</amntTp><vat><vatCode>{code}</vatCode><vatAmnt>")
                b.amount(f"{vat:.2f}")
                b.add("</vatAmnt><vatAmntTp>C</vatAmntTp></vat></ctLine>\n")
            b.add(f"<payment><paymentType>{rng.choice(('CASH', 'CARD'))}</paymentType><paidAmnt>")
            b.amount(f"{total:.2f}")
            b.add("</paidAmnt></payment>\n<signature>")
            b.text(_words(rng, 1))
            b.add("</signature>\n</cashtransaction>\n")
        b.add("</cashregister>\n")
        b.end()
    b.add("</location>\n</company>\n</auditfile>\n")
    return Seed("saft-cash-register", b.bytes(), "utf-8", {}, tuple(b.vouchers), "xml")


def saft_financial(rng: random.Random) -> Seed:
    transactions = []
    for n in range(rng.randint(2, 6)):
        net = Decimal(rng.randint(100, 9_999_999)) / 100
        tax = (net / 4).quantize(Decimal("0.01")) if rng.random() < 0.6 else None
        transactions.append((n + 1, _date(rng), net, tax))
    total = sum((net + (tax or 0) for _, _, net, tax in transactions), Decimal(0))
    b = _Builder("utf-8")
    b.add('<?xml version="1.0" encoding="UTF-8"?>\n<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO">\n'
          "<Header><AuditFileVersion>1.30</AuditFileVersion><Company><RegistrationNumber>888888888</RegistrationNumber>"
          "<Name>Tøyen Lekefabrikk AS</Name></Company><DefaultCurrencyCode>NOK</DefaultCurrencyCode></Header>\n"
          "<MasterFiles>\n<GeneralLedgerAccounts>\n"
          "<Account><AccountID>2700</AccountID><GroupingCode>2740</GroupingCode></Account>\n"
          "</GeneralLedgerAccounts>\n<Customers>\n<Customer><RegistrationNumber>987654325</RegistrationNumber>"
          "<Name>Leketøysbutikk Tøyen</Name><CustomerID>10001</CustomerID></Customer>\n</Customers>\n"
          "<TaxTable><TaxTableEntry><TaxType>MVA</TaxType>\n<TaxCodeDetails><TaxCode>H</TaxCode>"
          "<StandardTaxCode>3</StandardTaxCode></TaxCodeDetails>\n</TaxTableEntry></TaxTable>\n</MasterFiles>\n"
          f"<GeneralLedgerEntries>\n<NumberOfEntries>{len(transactions)}</NumberOfEntries>"
          f"<TotalDebit>{total:.2f}</TotalDebit><TotalCredit>{total:.2f}</TotalCredit>\n"
          "<Journal><JournalID>S</JournalID><Type>Salg</Type>\n")
    for number, day, net, tax in transactions:
        b.begin(f"saft-888888888-S-{number}")
        b.add(f"<Transaction>\n<TransactionID>{number}</TransactionID><TransactionDate>{day.isoformat()}"
              "</TransactionDate><Description>")
        b.text(_words(rng))
        b.add("</Description>\n<Line><RecordID>1</RecordID><AccountID>1500</AccountID><CustomerID>10001</CustomerID>"
              "<DebitAmount><Amount>")
        b.amount(f"{net + (tax or 0):.2f}")
        b.add("</Amount></DebitAmount></Line>\n<Line><RecordID>2</RecordID><AccountID>3000</AccountID>"
              "<Description>")
        b.text(_words(rng, 1))
        b.add("</Description><CreditAmount><Amount>")
        b.amount(f"{net:.2f}")
        b.add("</Amount></CreditAmount>")
        if tax is not None:
            b.add("<TaxInformation><TaxType>MVA</TaxType><TaxCode>H</TaxCode><CreditTaxAmount><Amount>")
            b.amount(f"{tax:.2f}")
            b.add("</Amount></CreditTaxAmount></TaxInformation></Line>\n<Line><RecordID>3</RecordID>"
                  "<AccountID>2700</AccountID><CreditAmount><Amount>")
            b.amount(f"{tax:.2f}")
            b.add("</Amount></CreditAmount>")
        b.add("</Line>\n</Transaction>\n")
        b.end()
    b.add("</Journal>\n</GeneralLedgerEntries>\n</AuditFile>\n")
    return Seed("saft-financial", b.bytes(), "utf-8", {}, tuple(b.vouchers), "xml")


# -- shared form --------------------------------------------------------------------------------------


def shared_form(rng: random.Random) -> Seed:
    b = _Builder("utf-8")
    b.add("[\n")
    count = rng.randint(2, 6)
    for n in range(count):
        b.begin(f"v-{n + 1}")
        b.add(f'  {{\n    "type": "voucher",\n    "reference": "v-{n + 1}",\n    "date": "{_date(rng).isoformat()}",\n'
              '    "description": "')
        b.text(_words(rng))
        b.add('",\n    "lines": [\n')
        amounts = _amounts(rng, rng.randint(2, 4))
        for i, amount in enumerate(amounts):
            account, vat = _account(amount, rng)
            b.add(f'      {{"account": "{account}", "amount": "')
            b.amount(f"{amount:.2f}")
            b.add('"' + (f', "vat_code": "{vat}"' if vat else "") + ("}\n" if i == len(amounts) - 1 else "},\n"))
        b.add("    ]\n  }" + ("\n" if n == count - 1 else ",\n"))
        b.end()
    b.add("]\n")
    return Seed("shared-form", b.bytes(), "utf-8", {}, tuple(b.vouchers), "json")


def _referenced(make: Callable[[random.Random], Seed]) -> Callable[[random.Random], Seed]:
    """The generator, with each voucher's reference as the reader gives it. Most formats' references
    can be written down (a voucher number); SIE's carry a hash of what the voucher books, so they are
    read back from the reader, matched to the voucher by the line it starts on."""

    def generate(rng: random.Random) -> Seed:
        import io

        import connectors

        seed = make(rng)
        documents = [d for d in connectors.SOURCES[seed.format](io.BytesIO(seed.data), file_name="seed",
                                                                 options=seed.options) if hasattr(d, "lines")]
        if {d.reference for d in documents} == {v.reference for v in seed.vouchers}:
            return seed
        at = {d.origin.line: d.reference for d in documents if d.origin is not None}
        vouchers = tuple(replace(v, reference=at.get(v.first_line, v.reference)) for v in seed.vouchers)
        return replace(seed, vouchers=vouchers)

    return generate


GENERATORS: dict[str, Callable[[random.Random], Seed]] = {
    "gbat10": gbat10,
    "visma-business": visma_business,
    "visma-global": visma_global,
    "sie4": _referenced(sie4),
    "saft-cash-register": saft_cash_register,
    "saft-financial": saft_financial,
    "shared-form": shared_form,
}
