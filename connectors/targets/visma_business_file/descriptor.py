"""The Visma Business import-file target as the registry sees it: where files land, their encoding, what it takes.

Format: reference/norway-standards.md §5.1 (Visma Business 15.10 user docs); the reader of the same format is
connectors/sources/visma_business.py, and every file this target writes reads back through it unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.descriptors import Accepts, Code, Drafts, TargetDescriptor, TargetSettings
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
    ),
    guide="docs/connect/visma-business-file.md",
)
