"""Pure mapping between the shared form and Xledger's GL import: vouchers to import items, registers to problems.

A voucher becomes one GL import item per line, all sharing a `trRegNumber` (how Xledger knows they are one
voucher), with a signed `amount` as text ("-250.00"), the account, tax rule, customer or supplier (`subledger`),
project and department (a GL object) by code, and our reference in `extIdentifier` on every item (how `find`
knows what we sent). The voucher's description leads the first line's text: the GL import has no header text
[unverified whether Xledger makes one from the first line].
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.targets.xledger.descriptor import DIMENSIONS, NOT_ACCEPTED, XledgerSettings
from pipeline.errors import Problem
from pipeline.model import Party, Voucher

MAX_NODES = 500  # "an array of nodes (max 500)" per mass mutation (Xledger's GraphQL general tips)
_INPUT = re.compile(r"inputs\[(\d+)\]\.node\.(\w+)")
# Xledger's field on an import item → ours on a line, for its refusals.
FIELDS = {"account": "account", "taxRule": "vat_code", "subledger": "customer", "project": "dimensions.project",
          "amount": "amount", "postedDate": "date", "text": "description", "dueDate": "due_date",
          **{f"glObject{n}": "dimensions.department" for n in range(1, 6)}}


@dataclass(frozen=True)
class Register:
    """What the connection has found in Xledger, by code (only hits: a miss is asked again next time)."""

    accounts: Mapping[str, dict[str, Any]]
    tax_rules: Mapping[str, dict[str, Any]]
    customers: Mapping[str, dict[str, Any]]
    suppliers: Mapping[str, dict[str, Any]]
    departments: Mapping[str, dict[str, Any]]
    projects: Mapping[str, dict[str, Any]]


def tax_rule(code: str, settings: XledgerSettings) -> str:
    return str(settings.tax_rules.get(code, code))


def party_code(party: Party | None) -> str | None:
    """Xledger finds customers and suppliers by their code: the party's number in the source."""
    return party.number if party is not None and party.number else None


def nodes(voucher: Voucher, *, number: int, settings: XledgerSettings, draft: bool) -> list[dict[str, Any]]:
    """The `addGLImportItems` inputs for one voucher: one node per line, client ids `<reference>#<line>`."""
    out = []
    for i, line in enumerate(voucher.lines):
        text = line.description or voucher.description
        if i == 0 and voucher.description and line.description and line.description != voucher.description:
            text = f"{voucher.description} – {line.description}"
        node: dict[str, Any] = {
            "trRegNumber": number, "postedDate": voucher.date.isoformat(),
            "transactionSource": {"code": settings.transaction_source}, "account": {"code": line.account},
            "amount": f"{line.amount:.2f}", "extIdentifier": voucher.reference,
            "jobLevel": {"dbSubId": settings.job_level}, "workflow": draft,
        }
        if text:
            node["text"] = text
        if line.vat_code is not None:
            node["taxRule"] = {"code": tax_rule(line.vat_code, settings)}
        code = party_code(line.customer) or party_code(line.supplier)
        if code:
            node["subledger"] = {"code": code}
        if "project" in line.dimensions:
            node["project"] = {"code": line.dimensions["project"]}
        if "department" in line.dimensions:
            node[f"glObject{settings.department_object}"] = {"code": line.dimensions["department"]}
        if line.invoice_number:
            node["invoiceNumber"] = line.invoice_number
            node["invoiceDate"] = voucher.date.isoformat()
        if line.due_date is not None:
            node["dueDate"] = line.due_date.isoformat()
        out.append({"clientId": f"{voucher.reference}#{i}", "node": node})
    return out


def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    """Each field of this voucher Xledger's GL import has no place for (descriptor.NOT_ACCEPTED)."""
    out = ["voucher_type"] if voucher.voucher_type and "voucher_type" in NOT_ACCEPTED else []
    for i, line in enumerate(voucher.lines):
        if line.kid:
            out.append(f"lines[{i}].kid")
        out += [f"lines[{i}].dimensions.{d}" for d in line.dimensions if d not in DIMENSIONS]
    return tuple(out)


def problems_for(voucher: Voucher, register: Register, settings: XledgerSettings) -> list[Problem]:
    """Everything this voucher needs that the entity lacks, each naming its line and field."""
    where: dict[str, Any] = {"reference": voucher.reference}
    found: list[Problem] = []
    if voucher.currency != "NOK":
        found.append(Problem(f"Xledger's GL import takes NOK vouchers here; {voucher.currency} needs an exchange "
                             "rate the shared form does not carry", field="currency", code="unsupported-currency",
                             **where))
    if len(voucher.lines) > MAX_NODES:
        found.append(Problem(f"{len(voucher.lines)} lines: Xledger takes at most {MAX_NODES} import items per call, "
                             "and a voucher's lines must arrive together", field="lines", code="too-many-lines",
                             **where))
    for i, line in enumerate(voucher.lines):
        account = register.accounts.get(line.account)
        if account is None:
            found.append(Problem(f"account {line.account} is not an open account in Xledger",
                                 field=f"lines[{i}].account", code="missing-account", **where))
        if line.vat_code is not None:
            rule = tax_rule(line.vat_code, settings)
            if rule not in register.tax_rules:
                found.append(Problem(f"VAT code {line.vat_code} (tax rule {rule}) does not exist in Xledger",
                                     field=f"lines[{i}].vat_code", code="unknown-vat-code", **where))
            elif account is not None and account.get("vat") is False:
                found.append(Problem(f"account {line.account} takes no tax rule in Xledger, but the line has VAT "
                                     f"code {line.vat_code}", field=f"lines[{i}].vat_code", code="vat-not-allowed",
                                     **where))
        for kind, party, table in (("customer", line.customer, register.customers),
                                   ("supplier", line.supplier, register.suppliers)):
            if party is None:
                continue
            code = party_code(party)
            if code is None or code not in table:
                said = f"{kind} {code} does not exist in Xledger" if code else \
                    f"the {kind} has no number, and Xledger finds {kind}s by their code"
                found.append(Problem(said, field=f"lines[{i}].{kind}", code=f"missing-{kind}", **where))
        for name, table in (("department", register.departments), ("project", register.projects)):
            value = line.dimensions.get(name)
            if value is not None and value not in table:
                found.append(Problem(f"{name} {value} does not exist in Xledger", field=f"lines[{i}].dimensions.{name}",
                                     code=f"missing-{name}", **where))
    return found


def refusal_problems(messages: Iterable[str], index: Sequence[tuple[str, int]]) -> list[Problem]:
    """Xledger's messages put on our lines where they name `inputs[N].node.<field>`; `index[N]` is
    (reference, line) of input N."""
    found = []
    for message in messages:
        match = _INPUT.search(message)
        if match is None or int(match.group(1)) >= len(index):
            continue
        reference, line = index[int(match.group(1))]
        ours = FIELDS.get(match.group(2), match.group(2))
        field = "date" if ours == "date" else f"lines[{line}].{ours}"
        found.append(Problem(message[match.end():].lstrip(".: ") or message, field=field, reference=reference,
                             code="refused"))
    return found
