"""Journal transactions in the Visma.net sandbox: what Visma.net refuses, what it stores, and how it lists them.

The rules, with their source (docs/fidelity.md has the list and what is unverified):
- A batch on hold may be out of balance; one taken off hold may not ("You can clear the check box only if the batch
  has total debits equal to total credits", `JournalTransactionDto.hold` in the spec). Message: Acumatica's
  `GL.Messages.BatchOutOfBalance`, "Batch is out of balance, please review." (Visma.net ERP is built on Acumatica).
- The date's financial period must exist, be active and be open in the general ledger; Acumatica's
  `TranDateOutOfRange`, `FiscalPeriodInactive`, `FiscalPeriodClosed` messages; a `financialPeriod` the date is not
  in: `FiscalPeriodNotCurrent`.
- Accounts must exist and be active (`AccountInactive`); a control account without manual entry is refused.
- A VAT ID must exist, and the account's VAT category must list it; VAT lines must match the rate on the taxable
  amount (within an øre a line) unless `skipVatAmountValidation`.
- Subaccount segment values must exist and be active where the segment validates; projects must exist and be active.
- `referenceNumber` holds at most 15 characters (Acumatica's GLTran.RefNbr).
- Error text: `{"message": "VismaId: <uuid>. Error creating document. Error: …"}` (community.visma.com).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sandboxes.visma_net.company import Company

CENT = Decimal("0.01")
REFERENCE_MAX = 15
MAX_PAGE_SIZE = 1000  # journal lines per page (metadata.maxPageSize)
DATETIME_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f")


class Refused(Exception):
    """What Visma.net answers with 400 and its message."""

    def __init__(self, *messages: str, status: int = 400) -> None:
        super().__init__(" ".join(messages))
        self.messages, self.status = list(messages), status


def _value(body: dict[str, Any], name: str) -> Any:
    wrapped = body.get(name)
    return wrapped.get("value") if isinstance(wrapped, dict) else None


def _money(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Refused(f"'{value}' is not a valid amount.") from None


def _period_name(period: dict[str, Any]) -> str:
    return f"{period['period'][4:]}-{period['period'][:4]}"  # Acumatica shows periods as MM-YYYY


def create(company: Company, body: Any, *, now: dt.datetime) -> dict[str, Any]:
    """Check a `JournalTransactionUpdateDto` as Visma.net does and store it; `Refused` with every error otherwise."""
    if not isinstance(body, dict):
        raise Refused("The request is invalid.")
    errors: list[str] = []
    hold = _value(body, "hold")
    hold = True if hold is None else bool(hold)  # [unverified] a new batch's default; our connector always says
    day = _date(_value(body, "transactionDate"))
    period = company.period_on(day) if day else None
    if day is None:
        errors.append("'Transaction date' cannot be empty.")
    elif period is None:
        errors.append(f"The financial period that corresponds to the {day:%d.%m.%Y} date does not exist in the "
                      f"{company.name} company.")
    else:
        given = _value(body, "financialPeriod")
        if given is not None and str(given) != period["period"]:
            errors.append("The date is outside the range of the selected financial period.")
        elif not period["active"]:
            errors.append(f"The {_period_name(period)} financial period is inactive.")
        elif period["closedInGeneralLedger"]:
            errors.append(f"The {_period_name(period)} financial period is closed.")
    branch = _value(body, "branch")
    if branch is not None and not company.branches.get(str(branch), {}).get("isActive"):
        errors.append(f"Branch '{branch}' cannot be found in the system.")
    lines = body.get("journalTransactionLines")
    if not isinstance(lines, list) or not lines:
        errors.append("The batch has no journal transaction lines.")
        lines = []
    stored = [_line(company, n, line, day, errors) for n, line in enumerate(lines, 1) if isinstance(line, dict)]
    debit = sum((line["debitAmount"] for line in stored), Decimal(0))
    credit = sum((line["creditAmount"] for line in stored), Decimal(0))
    if not hold and debit != credit:
        errors.append("Batch is out of balance, please review.")
    if day is not None and _value(body, "createVatTransaction") and not _value(body, "skipVatAmountValidation"):
        errors.extend(_vat_amounts(company, stored, day))
    if errors:
        raise Refused("Error creating document.", "Error:", *errors)
    number = f"{company.next_batch:06d}"
    company.next_batch += 1
    assert period is not None and day is not None
    batch = {
        "module": "ModuleGL", "batchNumber": number, "status": "Hold" if hold else "Balanced", "hold": hold,
        "transactionDate": f"{day.isoformat()}T00:00:00", "financialPeriod": period["period"],
        "postPeriod": period["period"][4:] + period["period"][:4], "ledger": "HOVEDBOK", "currencyId": "NOK",
        "description": _value(body, "description") or "", "debitTotal": debit, "creditTotal": credit,
        "debitTotalInCurrency": debit, "creditTotalInCurrency": credit, "branch": str(branch or "1"),
        "createVatTransaction": bool(_value(body, "createVatTransaction")),
        "skipVatAmountValidation": bool(_value(body, "skipVatAmountValidation")),
        "lastModifiedDateTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3], "journalTransactionLines": stored,
    }
    company.batches[number] = batch
    return batch


def _line(company: Company, number: int, line: dict[str, Any], day: dt.date | None, errors: list[str]) -> dict[str, Any]:
    if line.get("operation", "Insert") != "Insert":
        errors.append(f"Line {number}: a new batch takes only lines to insert.")
    account_number = str(_value(line, "accountNumber") or "")
    account = company.accounts.get(account_number)
    if not account_number:
        errors.append(f"Line {number}: 'Account' cannot be empty.")
    elif account is None:
        errors.append(f"Account '{account_number}' cannot be found in the system.")
    elif not account["active"]:
        errors.append(f"Account {account_number}: Account is inactive.")
    elif account["controlAccountModule"] and not account["allowManualEntry"]:
        errors.append(f"Account {account_number} is a control account of the {account['controlAccountModule']} "
                      "module and cannot be used in a manual journal transaction.")
    debit, credit = _money(_value(line, "debitAmountInCurrency")), _money(_value(line, "creditAmountInCurrency"))
    if debit < 0 or credit < 0 or (debit and credit):
        errors.append(f"Line {number}: enter either a debit or a credit amount, not negative and not both.")
    reference = _value(line, "referenceNumber")
    if reference is not None and len(str(reference)) > REFERENCE_MAX:
        errors.append(f"Line {number}: 'Ref. number' can be at most {REFERENCE_MAX} characters long.")
    vat_id, category = _value(line, "vatId"), _value(line, "vatCodeId")
    if vat_id is not None and str(vat_id) not in company.vats:
        errors.append(f"VAT ID '{vat_id}' cannot be found in the system.")
    if category is not None and str(category) not in company.categories:
        errors.append(f"VAT category '{category}' cannot be found in the system.")
    own = (account or {}).get("taxCategory")
    if vat_id is not None and own and str(vat_id) not in [r["vatId"] for r in company.categories[own]["vatCategoryLines"]]:
        errors.append(f"VAT ID '{vat_id}' cannot be used on account {account_number}: its VAT category {own} "
                      "does not include it.")
    segments = []
    for segment in line.get("subaccount") or ():
        found = company.segment_value(int(segment.get("segmentId") or 0), str(segment.get("segmentValue")))
        if found is None or not found.get("active", True):
            errors.append(f"Segment value '{segment.get('segmentValue')}' of subaccount segment "
                          f"{segment.get('segmentId')} cannot be found in the system.")
        else:
            segments.append({"segmentId": segment["segmentId"], "segmentValue": str(segment["segmentValue"])})
    project_id = _value(line, "project")
    project = company.projects.get(str(project_id)) if project_id is not None else None
    if project_id is not None and project is None:
        errors.append(f"Project '{project_id}' cannot be found in the system.")
    elif project is not None and project["status"] != "Active":
        errors.append(f"Project '{project_id}' is not active.")
    return {"lineNumber": number, "accountNumber": account_number,
            "subaccount": {"subaccountNumber": "-".join(s["segmentValue"] for s in segments) or "0",
                           "segments": segments},
            "referenceNumber": reference, "description": _value(line, "transactionDescription"),
            "transactionDescription": _value(line, "transactionDescription"),
            "debitAmount": debit, "debitAmountInCurrency": debit, "creditAmount": credit,
            "creditAmountInCurrency": credit, "vatCode": {"id": category} if category else None,
            "vat": {"id": vat_id} if vat_id else None, "project": {"id": project_id} if project_id else None,
            "module": "ModuleGL", "branch": "1"}


def _vat_amounts(company: Company, lines: list[dict[str, Any]], day: dt.date) -> list[str]:
    """VAT lines (on a VAT ID's own account) against the rate on the taxable lines, within an øre per line."""
    errors = []
    by_vat: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if line["vat"] and line["vat"]["id"] in company.vats:
            by_vat.setdefault(line["vat"]["id"], []).append(line)
    for vat_id, group in sorted(by_vat.items()):
        accounts = {company.vats[vat_id]["glAccounts"][k]["number"] for k in ("vatPayableAccount", "vatClaimableAccount")}
        taxes = [line for line in group if line["accountNumber"] in accounts]
        bases = [line for line in group if line["accountNumber"] not in accounts]
        net = sum((line["debitAmount"] - line["creditAmount"] for line in bases), Decimal(0))
        vat = sum((line["debitAmount"] - line["creditAmount"] for line in taxes), Decimal(0))
        expected = (net * company.rate(vat_id, day) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        if abs(vat - expected) > CENT * max(1, len(bases)):
            errors.append(f"The VAT amount {vat:.2f} for VAT ID '{vat_id}' does not match the VAT calculated on the "
                          f"taxable amount ({expected:.2f}).")
    return errors


def release(company: Company, number: str) -> None:
    batch = company.batches.get(number)
    if batch is None:
        raise Refused(f"Journal transaction '{number}' cannot be found in the system.", status=404)
    if batch["status"] != "Balanced":
        raise Refused("Batch Status invalid for processing.")
    period = company.periods.get(batch["financialPeriod"])
    if period is None or period["closedInGeneralLedger"]:
        raise Refused(f"The {batch['financialPeriod'][4:]}-{batch['financialPeriod'][:4]} financial period is closed.")
    batch["status"] = "Posted"  # released and posted at once [unverified: the company's "post on release" choice]


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    for pattern in DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(str(value).removesuffix("Z"), pattern).date()
        except ValueError:
            continue
    raise Refused(f"'{value}' is not a valid date.")


def since(value: str) -> dt.datetime:
    for pattern in DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(value, pattern)
        except ValueError:
            continue
    raise Refused(f"lastModifiedDateTime '{value}' is not in an accepted format.")


def listing(company: Company, query: dict[str, str]) -> list[dict[str, Any]]:
    """`GET /v2/journaltransaction`: a page of lines, grouped back into their batches, each with metadata."""
    period, modified = query.get("periodId"), query.get("lastModifiedDateTime")
    if not period and not modified:
        raise Refused("Either periodId or lastModifiedDateTime must be provided.")
    batches = sorted(company.batches.values(), key=lambda b: b["batchNumber"])
    if period:
        batches = [b for b in batches if b["financialPeriod"] == period]
    if modified:
        floor = since(modified)
        batches = [b for b in batches if dt.datetime.fromisoformat(b["lastModifiedDateTime"]) >= floor]
    if query.get("module") and query["module"] != "GL":
        batches = []
    if query.get("status"):
        batches = [b for b in batches if b["status"] == query["status"]]
    try:
        page, size = int(query.get("pageNumber", 1)), min(int(query.get("pageSize", MAX_PAGE_SIZE)), MAX_PAGE_SIZE)
    except ValueError:
        raise Refused("pageNumber and pageSize must be integers.") from None
    lines = [(b, line) for b in batches for line in b["journalTransactionLines"]]
    chosen = lines[(page - 1) * size: page * size]
    out: dict[str, dict[str, Any]] = {}
    for batch, line in chosen:
        out.setdefault(batch["batchNumber"], {**batch, "journalTransactionLines": [],
                                              "metadata": {"totalCount": len(lines), "maxPageSize": MAX_PAGE_SIZE}})
        out[batch["batchNumber"]]["journalTransactionLines"].append(line)
    return list(out.values())
