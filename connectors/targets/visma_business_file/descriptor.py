"""The Visma Business import-file target as the registry sees it: where files land, their encoding, what it takes.

Format: reference/norway-standards.md §5.1 (Visma Business 15.10 user docs); the reader of the same format is
connectors/sources/visma_business.py, and every file this target writes reads back through it unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.descriptors import (
    Accepts,
    Code,
    Drafts,
    FieldMap,
    Lands,
    NotAccepted,
    Refused,
    TargetDescriptor,
    TargetSettings,
)
from pipeline.names import CONTAINER_DELIVERIES, CONTAINER_SFTP
from pipeline.ports import Target, TargetContext

NAME = "visma-business-file"
FOLDER = "visma-business"
NOT_ACCEPTED = {
    "lines[].dimensions.*": "the file carries the department (R1) and the project (R2) only (settings department_unit, "
                            "project_unit)",
    "voucher_type": "Visma Business voucher types are numbers each company sets up: the file takes the connection's "
                    "(setting voucher_type)",
}
_ROW = "WaVo[]"
# The public field map (docs/field-map.md): where writer.records() puts each field — the file's own sections and
# field names (@WaVo's rows as WaVo[]) — and what render() shows. Proven by the contract suite.
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands("file", "the file's name, «<reference>.txt» (percent-encoded), where find looks for it; the "
                               "voucher number VoNo is the next of the tenant's counter, from first_voucher_number"),
    "date": Lands(f"{_ROW}.VoDt", "as YYYYMMDD on every row, and as the batch's ValDt"),
    "description": Lands("WaBnd[].Descr", "the batch's text (our reference where there is none), and the Txt of a "
                                          "row whose line has no text"),
    "currency": Refused("the file carries amounts in the company's currency (NOK): another currency is a preflight "
                        "problem (unsupported-currency)", accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_ROW}.DbAcNo|CrAcNo", "on the debit or the credit side by the amount's sign, account "
                                                      "type 3 (DbAcCl/CrAcCl); a line with a customer or supplier "
                                                      "names the party there instead, and Visma Business books it on "
                                                      "the party's ledger account as the company set it up"),
    "lines[].amount": Lands(f"{_ROW}.Am", "unsigned, with two decimals: the side is DbAcNo or CrAcNo"),
    "lines[].description": Lands(f"{_ROW}.Txt", "as is (a line break becomes a space)"),
    "lines[].vat_code": Lands(f"{_ROW}.DbTxCd|CrTxCd", "on the row's side; setting vat_codes maps a SAF-T code to the "
                                                       "company's tax code where they differ"),
    "lines[].vat_amount": Lands(f"{_ROW}.VatAm", "unsigned, where the line has a VAT code"),
    "lines[].dimensions.department": Lands(f"{_ROW}.R1", "the organisational unit the setting department_unit names "
                                                         "(R1 by default)"),
    "lines[].dimensions.project": Lands(f"{_ROW}.R2", "the organisational unit the setting project_unit names "
                                                      "(R2 by default)"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": Lands(f"{_ROW}.DbAcNo|CrAcNo", "the customer's number in place of the account, account type 1; "
                                                       "its name and address in @Actor(=CustNo,…)"),
    "lines[].supplier": Lands(f"{_ROW}.DbAcNo|CrAcNo", "the supplier's number in place of the account, account type "
                                                       "2; its name and address in @Actor(=SupNo,…)"),
    "lines[].kid": Lands(f"{_ROW}.CID", "as is"),
    "lines[].invoice_number": Lands(f"{_ROW}.InvoNo", "as is"),
    "lines[].due_date": Lands(f"{_ROW}.DueDt", "as YYYYMMDD"),
}}


class VismaBusinessFileSettings(TargetSettings):
    """Where the tenant's import job picks files up, and how Visma Business reads them."""

    drop: Literal["blob", "sftp"] = Field("blob", description=(
        f"blob: container {CONTAINER_DELIVERIES} under TENANT/{FOLDER}/; sftp: the tenant's SFTP home "
        f"(container {CONTAINER_SFTP}) under TENANT/outbound/{FOLDER}/"))
    encoding: Literal["windows-1252", "cp865", "cp850"] = Field("windows-1252", description=(
        "windows-1252 (ANSI, what Visma Business reads by default) or an OEM code page (cp865 Nordic, cp850): the "
        "file then says @CONVERT_FROM_OEM_TO_ANSI(1)"))
    voucher_type: int = Field(1, ge=0, le=99999, description="VoTp: the Visma Business voucher type the import uses")
    first_voucher_number: int = Field(1, ge=1, le=999_999_999, description=(
        "VoNo of the first voucher written; each next voucher takes the next number (Visma Business voucher numbers "
        "are integers, our references are text)"))
    vat_codes: dict[str, Code] = Field(default_factory=dict, description=(
        "SAF-T standard VAT code → the company's Visma Business tax code (DbTxCd/CrTxCd), where they differ"))
    department_unit: str = Field("R1", pattern=r"^R[1-9]$", description="The organisational unit of the department")
    project_unit: str = Field("R2", pattern=r"^R[1-9]$", description="The organisational unit of the project")


def connect(context: TargetContext) -> Target:
    from connectors.targets.visma_business_file.target import VismaBusinessFileTarget

    return VismaBusinessFileTarget(context)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title="Visma Business (import file)",
    settings=VismaBusinessFileSettings,
    connect=connect,
    check="writes nothing: says where files land and how they are encoded (Bilagsbro's own storage is always there)",
    http=False,
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=("department", "project"),
        drafts=Drafts(available=True, meaning=(
            f"a file under {FOLDER}/drafts/: the customer's import job makes a batch (bunt) of it that someone updates "
            f"in Visma Business; direct posting writes it under {FOLDER}/post/, for an import job that updates the "
            "batch itself")),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/visma-business-file.md",
)
