"""Every file source's parse speed and peak memory on a ~100 MB file, beside its floor on the same bytes.

For each format this writes a realistic file of about `--megabytes` MB to a temporary directory
(æøå in the texts; Windows-1252 for GBAT10 and the Visma formats, PC8/CP865 for SIE, UTF-8 for XML
and JSON), then runs, each in a fresh interpreter so that peak RSS (ru_maxrss) is that run's own:

- the floor: the library that reads the bytes with no bookkeeping logic — `csv.reader` for the
  tabular formats (with the format's delimiter and encoding), `lxml.etree.iterparse` on the element a
  voucher comes from (each released as it ends) for SAF-T, `json.loads` of the whole file for the
  shared form;
- ours: the format's `parse`, all the way to shared-form documents and problems;
- with `--dry-run`: `bilagsbro dry-run --summary` and `dry-run --json` on the same file, as a user
  runs them (output thrown away), peak RSS of the whole `bilagsbro` process.

It prints MB/s, vouchers/s, peak RSS and ours ÷ floor. Figures depend on the machine and on what
else runs on it: compare ours with the floor of the same run, never with another run's. `--root`
measures another checkout (e.g. an older commit) with the same files; `--compare DIR` measures that
checkout too, on the same file right after ours, and prints its MB/s and ratio beside ours.

Usage: python bench/bench_parsers.py [--megabytes 100] [--formats gbat10,sie4] [--dry-run] [--root DIR]
       [--compare DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("Blåbær", "Ørret", "Smørbrød", "Grünerløkka", "Tromsø", "Kåre", "Brød", "Kaffe", "Ålesund",
         "Fårikål", "Kvikklunsj", "Æbleskiver")


def _kid(base: str) -> str:
    """A MOD10 (Luhn) KID, as invoices carry them."""
    total = 0
    for i, ch in enumerate(reversed(base)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return base + str((10 - total % 10) % 10)


def _day(n: int, sep: str = "") -> str:
    return f"2025{sep}{1 + n % 12:02d}{sep}{1 + n % 28:02d}"


def _words(n: int) -> str:
    return f"{WORDS[n % len(WORDS)]} {WORDS[(n * 7 + 3) % len(WORDS)]}"


def _fill(out: IO[bytes], megabytes: float, encoding: str, block: Callable[[int], str], start: int = 1) -> int:
    """Append blocks of text (one voucher each) until the file holds `megabytes` MB; returns the count."""
    target, n = int(megabytes * 1_000_000), start - 1
    while out.tell() < target:
        chunk = []
        for _ in range(1000):
            n += 1
            chunk.append(block(n))
        out.write("".join(chunk).encode(encoding))
    return n - start + 1


# -- the files ---------------------------------------------------------------------------------------


def gbat10(path: Path, megabytes: float) -> int:
    """Extenda Go style: three lines a voucher (customer with KID and due date, sale with VAT, VAT)."""

    def block(n: int) -> str:
        date = _day(n)
        head = f"GBAT10;{n};{date};1;{date[4:6]};2025"
        return (f"{head};1500;;1250.00;{10000 + n % 500};;Kunde Ærøy {n};Storgata 1;0150;Oslo;"
                f"{n};{_kid(str(n))};{date};;;Faktura {n} {_words(n)};Reskontro;;;;;;\r\n"
                f"{head};3000;3;-1000.00;;;;;;;;;;;;Salg høy sats, Østfold;;;P1;10;;;\r\n"
                f"{head};2700;;-250.00;;;;;;;;;;;;Utgående mva på salg;;;;;;;\r\n")

    with path.open("wb") as out:
        return _fill(out, megabytes, "cp1252", block)


def visma_business(path: Path, megabytes: float) -> int:
    """ANSI (Windows-1252) batch import: customers in @Actor, a batch, two rows a voucher."""
    with path.open("wb") as out:
        head = ["@IMPORT_METHOD(3)", "@Actor(=CustNo,Nm,Ad1,Pno,Parea,BsNo)"]
        head += [f'{10000 + c} "Bjørnstad Ærøy {c} AS" "Øvre gate {c}" "9008" "Tromsø" "988077917"'
                 for c in range(500)]
        head += ["@WaBnd(ValDt)", "20250102",
                 "@WaVo(VoNo,VoDt,VoTp,Txt,DbAcNo,DbTxCd,DbAcCl,CrAcNo,CrTxCd,CrAcCl,AmExVAT,VatAm,Am,InvoNo,"
                 "DueDt,CID,R1,R2)"]
        out.write(("\r\n".join(head) + "\r\n").encode("cp1252"))

        def block(n: int) -> str:
            date = _day(n)
            return (f'{n} {date} 11 "Faktura {_words(n)} {n}" {10000 + n % 500} 0 1 0 0 0 1000.00 0 1250.00 {n} '
                    f'{_day(n + 30)} {_kid(str(n))} 0 0\r\n'
                    f'{n} {date} 11 "Salg blåbær, {n % 90} kg" 0 0 0 3000 3 3 1000.00 250.00 1250.00 {n} 0 "" '
                    f"10 P{n % 7}\r\n")

        return _fill(out, megabytes, "cp1252", block)


def visma_global(path: Path, megabytes: float) -> int:
    """BatchLine CSV (Windows-1252): a cash sale with a SAF-T code, and a purchase with KID over two rows."""
    with path.open("wb") as out:
        out.write(b"VoucherNo,VoucherDate,VoucherTypeNo,VoucherText,DepNo,ProjectNo,DebitAccountNo,CreditAccountNo,"
                  b"VATCode,Amount,DueDate,KID,SuppliersInvoiceNo,SAFTStdVatCode,SAFTStdVatCodeCredit\r\n")

        def block(n: int) -> str:
            date, sale, buy = _day(n), 2 * n, 2 * n + 1
            return (f"{sale},{date},1,Kontantsalg {_words(n)},10,,1900,3000,,1250.00,,,,,3\r\n"
                    f'{buy},{date},4,"Innkjøp, Ørland {n}",,P7,4300,2400,,625.00,{_day(n + 30)},'
                    f"{_kid(str(n))},F-{n},1,\r\n"
                    f"{buy},{date},4,Frakt,,P7,6100,2400,,100.00,{_day(n + 30)},{_kid(str(n))},F-{n},1,\r\n")

        return 2 * _fill(out, megabytes, "cp1252", block)


SIE_ACCOUNTS = {"1930": "Företagskonto", "2640": "Ingående moms", "6072": "Representation, ej avdragsgill",
                "1510": "Kundfordringar", "3010": "Försäljning", "2611": "Utgående moms 25 %"}


def sie4(path: Path, megabytes: float) -> int:
    """SIE 4E as the spec says it (PC8, read as CP865): chart, balances, 3-row vouchers, object lists."""
    with path.open("wb") as out:
        head = ["#FLAGGA 0", '#PROGRAM "Bilagsbro bench" 1.0', "#FORMAT PC8", '#GEN 20250114 "Åsa Lindström"',
                "#SIETYP 4", '#FNAMN "Øvningsbedriften på Ørland AS"', "#VALUTA NOK", "#RAR 0 20250101 20251231",
                '#DIM 1 "Avdeling"', '#DIM 6 "Prosjekt"']
        head += [f'#KONTO {number} "{name}"' for number, name in SIE_ACCOUNTS.items()]
        head += ["#IB 0 1930 1009216.50", "#UB 0 1930 984091.74"]
        out.write(("\r\n".join(head) + "\r\n").encode("cp865"))

        def block(n: int) -> str:
            day = _day(n)
            if n % 2:
                return (f'#VER A {n} {day} "Representation måltid {n}" {day} "Åsa"\r\n{{\r\n'
                        f"#TRANS 1930 {{}} -1000.00 {day} \"\"\r\n"
                        f'#TRANS 6072 {{1 "10" 6 "P{n % 7}"}} 928.00 {day} "{_words(n)}"\r\n'
                        f"#TRANS 2640 {{}} 72.00 {day} \"\"\r\n}}\r\n")
            return (f'#VER B {n} {day} "Faktura {n} Kåre Ørret AB"\r\n{{\r\n'
                    f"#TRANS 1510 {{}} 1250.00\r\n#TRANS 3010 {{1 \"20\"}} -1000.00\r\n"
                    f"#TRANS 2611 {{}} -250.00\r\n}}\r\n")

        return _fill(out, megabytes, "cp865", block)


CR_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<auditfile xmlns="urn:StandardAuditFile-Taxation-CashRegister:NO">
<header><fiscalYear>2024</fiscalYear><startDate>2024-01-01</startDate><endDate>2024-12-31</endDate>
<curCode>NOK</curCode><dateCreated>2025-01-02</dateCreated><timeCreated>06:00:00</timeCreated>
<softwareDesc>Benchkassa</softwareDesc><softwareVersion>1.0</softwareVersion>
<softwareCompanyName>Bilagsbro</softwareCompanyName><auditfileVersion>1.0</auditfileVersion></header>
<company><companyIdent>999999999</companyIdent><companyName>Kaffebaren på hjørnet AS</companyName>
<vatCodeDetails>
<vatCodeDetail><vatCode>2</vatCode><dateOfEntry>2024-01-01</dateOfEntry><standardVatCode>31</standardVatCode></vatCodeDetail>
<vatCodeDetail><vatCode>3</vatCode><dateOfEntry>2024-01-01</dateOfEntry><standardVatCode>3</standardVatCode></vatCodeDetail>
</vatCodeDetails>
<basics>
<basic><basicType>11</basicType><basicID>CASHSAL</basicID><predefinedBasicID>11001</predefinedBasicID><basicDesc>Salg</basicDesc></basic>
<basic><basicType>12</basicType><basicID>CASH</basicID><predefinedBasicID>12001</predefinedBasicID><basicDesc>Kontant</basicDesc></basic>
<basic><basicType>12</basicType><basicID>DEBCARD</basicID><predefinedBasicID>12002</predefinedBasicID><basicDesc>Bankkort</basicDesc></basic>
</basics>
<location><name>Butikk Grünerløkka</name>
"""
CR_LINE = """<ctLine><nr>{n}</nr><lineID>{i}</lineID><lineType>SAL</lineType><artGroupID>100</artGroupID>\
<artID>{art}</artID><qnt>1</qnt><lineAmntIn>{gross}</lineAmntIn><lineAmntEx>{net}</lineAmntEx><amntTp>C</amntTp>\
<empID>1001</empID><lineDate>{day}</lineDate><lineTime>09:00:00</lineTime><vat><vatCode>{code}</vatCode>\
<vatPerc>{perc}</vatPerc><vatAmnt>{vat}</vatAmnt><vatAmntTp>C</vatAmntTp><vatBasAmnt>{net}</vatBasAmnt></vat></ctLine>
"""
CR_TRANSACTION = """<cashtransaction><nr>{n}</nr><transID>{n}</transID><transType>CASHSAL</transType>\
<transAmntIn>{total}</transAmntIn><transAmntEx>0.00</transAmntEx><amntTp>C</amntTp><empID>1001</empID>\
<periodNumber>1</periodNumber><transDate>{day}</transDate><transTime>09:00:00</transTime>
{lines}<rounding><roundingAmnt>{rounding}</roundingAmnt></rounding>
<payment><paymentType>{kind}</paymentType><paidAmnt>{paid}</paidAmnt><empID>1001</empID><curCode>NOK</curCode>\
<exchRt>1.000000</exchRt><paymentRefID>BAX: 568833-{n}</paymentRefID></payment>
<signature>IMVOfRnF0zS4fLbeQVbzmqLLdHUjlYnjqMqxA+X+o0Fxx3YDlrFRiqyQrRUg932u/scZIEsgcr9G0bXAFG2BR4zedpJoJXMJYlE6\
8ul8jvJ/SsUwIjNxVHWVLVH+nkAGW63L+leGFqNVOZM9Fc7IqgCFfWMdI0XcKKJmyUvxUkI=</signature><keyVersion>1</keyVersion>\
<receiptNum>1</receiptNum><voidTransaction>false</voidTransaction><trainingID>false</trainingID></cashtransaction>
"""
CR_ITEMS = [("32.80", "28.52", "4.28", "2", "15.00"), ("116.00", "92.80", "23.20", "3", "25.00"),
            ("179.40", "143.52", "35.88", "3", "25.00"), ("25.80", "22.43", "3.37", "2", "15.00")]
CR_REGISTERS = 4


def saft_cash_register(path: Path, megabytes: float) -> int:
    """Receipts of 1-3 lines over four registers and many days; cash paid in whole kroner (rounding)."""
    per_register = megabytes / CR_REGISTERS
    count = 0
    with path.open("wb") as out:
        out.write(CR_HEAD.encode("utf-8"))
        for register in range(1, CR_REGISTERS + 1):
            out.write(f"<cashregister><registerID>K{register}</registerID>\n".encode())

            def block(n: int) -> str:
                day = f"2024-{1 + (n // 20000) % 12:02d}-{1 + (n // 700) % 28:02d}"
                items = [CR_ITEMS[(n + k) % len(CR_ITEMS)] for k in range(1 + n % 3)]
                lines = "".join(CR_LINE.format(n=n, i=i, art=1000 + i, gross=g, net=e, vat=v, code=c, perc=p, day=day)
                                for i, (g, e, v, c, p) in enumerate(items, 1))
                total = sum(Decimal(g) for g, *_ in items)
                cash = n % 2 == 0
                paid = total.quantize(Decimal("1")) if cash else total
                return CR_TRANSACTION.format(n=n, day=day, lines=lines, total=total, rounding=paid - total,
                                             kind="CASH" if cash else "DEBCARD", paid=paid)

            count += _fill(out, per_register * register, "utf-8", block, start=count + 1)
            out.write(b"</cashregister>\n")
        out.write(b"</location>\n</company>\n</auditfile>\n")
    return count  # receipts; the documents are daily settlements per register


FIN_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO">
<Header><AuditFileVersion>1.30</AuditFileVersion><AuditFileCountry>NO</AuditFileCountry>\
<AuditFileDateCreated>2025-01-14</AuditFileDateCreated><SoftwareCompanyName>Bilagsbro</SoftwareCompanyName>\
<SoftwareID>bench</SoftwareID><SoftwareVersion>1.0</SoftwareVersion>
<Company><RegistrationNumber>999999999</RegistrationNumber><Name>Fjøsnisse og Søn AS</Name>\
<Address><StreetName>Storgata</StreetName><Number>1</Number><City>Tromsø</City><PostalCode>9008</PostalCode>\
<Country>NO</Country></Address></Company>
<DefaultCurrencyCode>NOK</DefaultCurrencyCode><SelectionCriteria><PeriodStart>1</PeriodStart>\
<PeriodStartYear>2025</PeriodStartYear><PeriodEnd>12</PeriodEnd><PeriodEndYear>2025</PeriodEndYear>\
</SelectionCriteria><TaxAccountingBasis>A</TaxAccountingBasis></Header>
<MasterFiles>
<GeneralLedgerAccounts>
{accounts}</GeneralLedgerAccounts>
<Customers>
{customers}</Customers>
<TaxTable><TaxTableEntry><TaxType>MVA</TaxType><Description>Merverdiavgift</Description>
<TaxCodeDetails><TaxCode>H</TaxCode><Description>Utgående mva høy sats</Description><TaxPercentage>25</TaxPercentage>\
<Country>NO</Country><StandardTaxCode>3</StandardTaxCode><BaseRate>100</BaseRate></TaxCodeDetails>
<TaxCodeDetails><TaxCode>I</TaxCode><Description>Inngående mva høy sats</Description><TaxPercentage>25</TaxPercentage>\
<Country>NO</Country><StandardTaxCode>1</StandardTaxCode><BaseRate>100</BaseRate></TaxCodeDetails>
</TaxTableEntry></TaxTable>
</MasterFiles>
<GeneralLedgerEntries>
<NumberOfEntries>{entries}</NumberOfEntries><TotalDebit>{debit}</TotalDebit><TotalCredit>{credit}</TotalCredit>
<Journal><JournalID>GL</JournalID><Description>Hovedbok</Description><Type>GL</Type>
"""
FIN_ACCOUNTS = {"1500": ("Kundefordringer", "1500"), "1920": ("Bankinnskudd", "1920"), "2400": ("Leverandørgjeld", "2400"),
                "2700": ("Utgående mva", "2740"), "2710": ("Inngående mva", "2740"), "3000": ("Salgsinntekt", "3000"),
                "4300": ("Innkjøp av varer", "4300")}


def saft_financial(path: Path, megabytes: float) -> int:
    """SAF-T Financial 1.30: master files, then sales (customer, VAT folded) and purchases, three lines each."""

    def block(n: int) -> str:
        day = _day(n, "-")
        if n % 2:
            return (f"<Transaction><TransactionID>{n}</TransactionID><Period>{day[5:7].lstrip('0')}</Period>"
                    f"<PeriodYear>2025</PeriodYear><TransactionDate>{day}</TransactionDate><SourceID>1</SourceID>"
                    f"<TransactionType>Normal</TransactionType><Description>Faktura {n} {_words(n)}</Description>"
                    f"<SystemEntryDate>{day}</SystemEntryDate><GLPostingDate>{day}</GLPostingDate>\n"
                    f"<Line><RecordID>1</RecordID><AccountID>1500</AccountID><CustomerID>K{n % 300}</CustomerID>"
                    f"<ReferenceNumber>{n}</ReferenceNumber><CID>{_kid(str(n))}</CID><DueDate>{day}</DueDate>"
                    f"<Description>Faktura {n}</Description><DebitAmount><Amount>1250.00</Amount></DebitAmount></Line>\n"
                    f"<Line><RecordID>2</RecordID><AccountID>3000</AccountID><Analysis><AnalysisType>A</AnalysisType>"
                    f"<AnalysisID>10</AnalysisID></Analysis><Description>Salg blåbær</Description><CreditAmount>"
                    f"<Amount>1000.00</Amount></CreditAmount><TaxInformation><TaxType>MVA</TaxType><TaxCode>H</TaxCode>"
                    f"<TaxPercentage>25</TaxPercentage><TaxBase>1000.00</TaxBase><CreditTaxAmount><Amount>250.00</Amount>"
                    f"</CreditTaxAmount></TaxInformation></Line>\n"
                    f"<Line><RecordID>3</RecordID><AccountID>2700</AccountID><Description>Utgående mva</Description>"
                    f"<CreditAmount><Amount>250.00</Amount></CreditAmount></Line>\n</Transaction>\n")
        return (f"<Transaction><TransactionID>{n}</TransactionID><Period>{day[5:7].lstrip('0')}</Period>"
                f"<PeriodYear>2025</PeriodYear><TransactionDate>{day}</TransactionDate><SourceID>1</SourceID>"
                f"<Description>Innkjøp Ørland {n}</Description><SystemEntryDate>{day}</SystemEntryDate>"
                f"<GLPostingDate>{day}</GLPostingDate>\n"
                f"<Line><RecordID>1</RecordID><AccountID>4300</AccountID><Analysis><AnalysisType>P</AnalysisType>"
                f"<AnalysisID>P{n % 7}</AnalysisID></Analysis><Description>Varer</Description><DebitAmount>"
                f"<Amount>500.00</Amount></DebitAmount><TaxInformation><TaxType>MVA</TaxType><TaxCode>I</TaxCode>"
                f"<DebitTaxAmount><Amount>125.00</Amount></DebitTaxAmount></TaxInformation></Line>\n"
                f"<Line><RecordID>2</RecordID><AccountID>2710</AccountID><DebitAmount><Amount>125.00</Amount>"
                f"</DebitAmount></Line>\n"
                f"<Line><RecordID>3</RecordID><AccountID>2400</AccountID><Description>Leverandør Kåre</Description>"
                f"<CreditAmount><Amount>625.00</Amount></CreditAmount></Line>\n</Transaction>\n")

    accounts = "".join(f"<Account><AccountID>{a}</AccountID><AccountDescription>{d}</AccountDescription>"
                       f"<GroupingCategory>RF-1167</GroupingCategory><GroupingCode>{g}</GroupingCode>"
                       f"<AccountType>GL</AccountType><OpeningDebitBalance>0.00</OpeningDebitBalance>"
                       f"<ClosingDebitBalance>0.00</ClosingDebitBalance></Account>\n"
                       for a, (d, g) in FIN_ACCOUNTS.items())
    customers = "".join(f"<Customer><RegistrationNumber>988077917</RegistrationNumber><Name>Kunde Ærøy {c} AS</Name>"
                        f"<Address><StreetName>Øvre gate</StreetName><Number>{c}</Number><City>Tromsø</City>"
                        f"<PostalCode>9008</PostalCode><Country>NO</Country><AddressType>PostalAddress</AddressType>"
                        f"</Address><Contact><ContactPerson><FirstName>Åse</FirstName><LastName>Øren</LastName>"
                        f"</ContactPerson><Email>post{c}@example.no</Email></Contact><CustomerID>K{c}</CustomerID>"
                        f"<AccountID>1500</AccountID></Customer>\n" for c in range(300))
    body = path.with_suffix(".body")
    with body.open("wb") as out:
        count = _fill(out, megabytes, "utf-8", block)
    sales, purchases = (count + 1) // 2, count // 2
    total = Decimal("1250.00") * sales + Decimal("625.00") * purchases
    with path.open("wb") as out:
        out.write(FIN_HEAD.format(accounts=accounts, customers=customers, entries=count, debit=f"{total:.2f}",
                                  credit=f"{total:.2f}").encode("utf-8"))
        with body.open("rb") as rest:
            shutil.copyfileobj(rest, out, 1 << 20)
        out.write(b"</Journal>\n</GeneralLedgerEntries>\n</AuditFile>\n")
    body.unlink()
    return count


def shared_form(path: Path, megabytes: float) -> int:
    """A JSON array of vouchers as a vendor's exporter writes it (indented, UTF-8, æøå as they are)."""

    def block(n: int) -> str:
        document = {
            "type": "voucher", "reference": f"ordre-{n}", "date": _day(n, "-"),
            "description": f"Ordre {n} {_words(n)}", "voucher_type": "sales",
            "lines": [
                {"account": "1500", "amount": "1250.00", "description": "Kundefordring",
                 "customer": {"number": f"{10000 + n % 500}", "name": f"Kunde Ærøy {n % 500}",
                              "email": f"kunde{n % 500}@example.no"},
                 "kid": _kid(str(n)), "invoice_number": str(n), "due_date": _day(n + 30, "-")},
                {"account": "3000", "amount": "-1000.00", "vat_code": "3", "vat_amount": "-200.00",
                 "description": "Salg blåbær", "dimensions": {"department": "10", "project": f"P{n % 7}"}},
                {"account": "3000", "amount": "-250.00", "vat_code": "3", "vat_amount": "-50.00",
                 "description": "Frakt Tromsø"},
            ],
        }
        return ("[\n" if n == 1 else ",\n") + json.dumps(document, ensure_ascii=False, indent=2)

    with path.open("wb") as out:
        count = _fill(out, megabytes, "utf-8", block)
        out.write(b"\n]\n")
    return count


FORMATS: dict[str, tuple[Callable[[Path, float], int], str, dict[str, object]]] = {
    "gbat10": (gbat10, "csv", {"vat_map": {"3": "3"}}),
    "visma-business": (visma_business, "txt", {"vat_map": {"3": "3"}}),
    "visma-global": (visma_global, "csv", {}),
    "sie4": (sie4, "se", {}),
    "saft-cash-register": (saft_cash_register, "xml", {}),
    "saft-financial": (saft_financial, "xml", {}),
    "shared-form": (shared_form, "json", {}),
}

FLOORS = {  # the same bytes through the library alone
    "gbat10": "csv.reader(open(PATH, encoding='cp1252', newline=''), delimiter=';')",
    "visma-business": "csv.reader(open(PATH, encoding='cp1252', newline=''), delimiter=' ')",
    "visma-global": "csv.reader(open(PATH, encoding='cp1252', newline=''), delimiter=',')",
    "sie4": "csv.reader(open(PATH, encoding='cp865', newline=''), delimiter=' ')",
    "saft-cash-register": "iterparse(tag='{*}cashtransaction')",
    "saft-financial": "iterparse(tag='{*}Transaction')",
    "shared-form": "json.loads(whole file)",
}

CHILD = r"""
import json, os, resource, sys, time
ROOT, FORMAT, MODE, PATH, OPTIONS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
sys.path.insert(0, ROOT)
os.chdir(ROOT)
documents = problems = errors = 0
first_error = None
if MODE == "ours":
    import importlib
    from pipeline.errors import Problem
    module = importlib.import_module("connectors.sources." + FORMAT.replace("-", "_"))
def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
start, start_cpu = time.perf_counter(), cpu()
if MODE == "floor" and FORMAT in ("saft-cash-register", "saft-financial"):
    from lxml import etree
    tag = "{*}cashtransaction" if FORMAT == "saft-cash-register" else "{*}Transaction"
    for _, element in etree.iterparse(PATH, events=("end",), tag=tag, resolve_entities=False, no_network=True):
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
        documents += 1
elif MODE == "floor" and FORMAT == "shared-form":
    with open(PATH, "rb") as f:
        documents = len(json.loads(f.read()))
elif MODE == "floor":
    import csv
    encoding = "cp865" if FORMAT == "sie4" else "cp1252"
    delimiter = {"gbat10": ";", "visma-global": ","}.get(FORMAT, " ")
    with open(PATH, encoding=encoding, newline="") as f:
        documents = sum(1 for _ in csv.reader(f, delimiter=delimiter))
elif MODE == "ours":
    with open(PATH, "rb") as f:
        for item in module.parse(f, file_name=os.path.basename(PATH), options=OPTIONS):
            if isinstance(item, Problem):
                problems += 1
                if item.is_error:
                    errors += 1
                    first_error = first_error or str(item)
            else:
                documents += 1
elif MODE.startswith("dry-run"):
    import subprocess, tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as given:
        json.dump(OPTIONS, given)
    with open(os.devnull, "w") as sink:
        subprocess.run([sys.executable, "-m", "bilagsbro", "dry-run", PATH, "--format", FORMAT, "--options", given.name,
                        "--" + MODE.split(":")[1]], stdout=sink, stderr=subprocess.DEVNULL, check=False)
    os.unlink(given.name)
seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "documents": documents, "problems": problems, "errors": errors,
                  "first_error": first_error, "rss_kib": child if MODE.startswith("dry-run") else own}))
"""


def measure(root: Path, format: str, mode: str, path: Path, options: dict[str, object]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), format, mode, str(path), json.dumps(options)],
                         capture_output=True, text=True, check=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)})
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=100)
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated; default all")
    parser.add_argument("--dry-run", action="store_true", help="also time `bilagsbro dry-run --summary` on each file")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--compare", type=Path, help="also measure this checkout's parsers on the same files")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    rows = []
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; checkout {args.root}\n")
    print(f"{'format':<19} {'MB':>6} {'floor MB/s':>10} {'ours MB/s':>9} {'ratio':>6} {'cpu ratio':>9} {'ours RSS':>9} "
          f"{'floor RSS':>9} {'vouchers/s':>10}  documents / problems (errors)")
    for format in args.formats.split(","):
        write, suffix, options = FORMATS[format]
        with tempfile.TemporaryDirectory(prefix=f"bench-{format}-") as tmp:
            path = Path(tmp) / f"bench.{suffix}"
            write(path, args.megabytes)
            size = path.stat().st_size / 1_000_000
            floor = measure(args.root, format, "floor", path, options)
            ours = measure(args.root, format, "ours", path, options)
            row = {"format": format, "megabytes": round(size, 1), "floor": FLOORS[format],
                   "floor_mb_s": size / float(floor["seconds"]), "ours_mb_s": size / float(ours["seconds"]),
                   "ours_rss_mib": int(ours["rss_kib"]) / 1024, "floor_rss_mib": int(floor["rss_kib"]) / 1024,
                   "documents": ours["documents"], "problems": ours["problems"], "errors": ours["errors"],
                   "vouchers_s": int(ours["documents"]) / float(ours["seconds"])}
            row["ratio"] = row["ours_mb_s"] / row["floor_mb_s"]
            row["cpu_ratio"] = float(floor["cpu_seconds"]) / float(ours["cpu_seconds"])
            print(f"{format:<19} {size:>6.1f} {row['floor_mb_s']:>10.1f} {row['ours_mb_s']:>9.2f} {row['ratio']:>6.2f} "
                  f"{row['cpu_ratio']:>9.2f} {row['ours_rss_mib']:>5.0f} MiB {row['floor_rss_mib']:>5.0f} MiB "
                  f"{row['vouchers_s']:>10.0f}  {ours['documents']} / {ours['problems']} ({ours['errors']})", flush=True)
            if ours["first_error"]:
                print(f"{'':<19} first error: {ours['first_error']}")
            if args.compare:
                other = measure(args.compare, format, "ours", path, options)
                row["compare_mb_s"] = size / float(other["seconds"])
                row["compare_rss_mib"] = int(other["rss_kib"]) / 1024
                row["compare_cpu_ratio"] = float(floor["cpu_seconds"]) / float(other.get("cpu_seconds") or "nan")
                print(f"{'':<19} {args.compare}: {row['compare_mb_s']:.2f} MB/s, ratio "
                      f"{row['compare_mb_s'] / row['floor_mb_s']:.2f}, cpu ratio {row['compare_cpu_ratio']:.2f}, RSS {row['compare_rss_mib']:.0f} MiB, "
                      f"{other['documents']} / {other['problems']} ({other['errors']}); ours ÷ it "
                      f"{row['ours_mb_s'] / row['compare_mb_s']:.2f}", flush=True)
            for output in ("summary", "json") if args.dry_run else ():
                dry = measure(args.root, format, f"dry-run:{output}", path, options)
                row[f"dry_run_{output}_mb_s"] = size / float(dry["seconds"])
                row[f"dry_run_{output}_rss_mib"] = int(dry["rss_kib"]) / 1024
                print(f"{'':<19} dry-run --{output}: {row[f'dry_run_{output}_mb_s']:.2f} MB/s, peak RSS "
                      f"{row[f'dry_run_{output}_rss_mib']:.0f} MiB (the whole bilagsbro process)", flush=True)
            rows.append(row)
    print("\nfloor: " + "; ".join(f"{f} {FLOORS[f]}" for f in args.formats.split(",")))
    print("cpu ratio = the floor's CPU seconds ÷ ours (user + system, the work alone): what the ratio would be with "
          "both given the same share of a busy machine")
    print("ratio = ours MB/s ÷ floor MB/s in this run; RSS = peak resident memory of a fresh interpreter doing only "
          "that (imports included)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
