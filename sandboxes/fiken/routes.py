"""The Fiken sandbox's routes: what each `GET`/`POST` under /api/v2 answers, with Fiken's filters and paging.

Filters as the spec's parameters name them: `/contacts` (customerNumber, supplierNumber, memberNumber, name,
organizationNumber, email, customer, supplier, inactive, phoneNumber), `/accounts` (fromAccount, toAccount, not
paged), `/journalEntries` (date, createdDate and lastModified, each also with Le/Lt/Ge/Gt). [unverified] how
Fiken compares: exact here, e-mail without regard to case; a contact list without `inactive` has every contact.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandboxes.fiken.server import FikenSandbox

Answer = tuple[int, Any, dict[str, str]]
_COMPANY = re.compile(r"^/companies/([^/]+)(/.*)?$")
_DATES = re.compile(r"^(date|createdDate|lastModified)(Le|Lt|Ge|Gt)?$")
_FIELD = {"date": "date", "createdDate": "createdDate", "lastModified": "lastModifiedDate"}


def route(box: FikenSandbox, method: str, path: str, query: dict[str, str], body: Any, *, commit: bool) -> Answer:
    from sandboxes.fiken.server import Problem, paged

    if method == "GET" and path == "/user":
        return 200, {"name": "Kari Nordmann", "email": "kari@fjordbakst.example"}, {}
    if method == "GET" and path == "/companies":
        reached = [c.as_company() for slug, c in box.companies.items() if slug in box.reach]
        page, headers = paged(sorted(reached, key=lambda c: str(c["name"])), query)
        return 200, page, headers
    match = _COMPANY.match(path)
    if match is None:
        raise Problem(404, f"No such endpoint: {method} /api/v2{path}")
    company = box.company_for(match.group(1))
    rest = match.group(2) or ""
    if method == "GET" and rest == "":
        return 200, company.as_company(), {}
    if method == "GET" and rest == "/accounts":
        low, high = _int(query, "fromAccount", 0), _int(query, "toAccount", 9999)
        with company.lock:
            found = [a for code, a in sorted(company.accounts.items()) if low <= int(code[:4]) <= high]
        return 200, found, {}
    account = re.fullmatch(r"/accounts/([^/]+)", rest)
    if method == "GET" and account:
        with company.lock:
            found_account = company.accounts.get(account.group(1))
        if found_account is None:
            raise Problem(404, f"Fant ikke konto {account.group(1)}")
        return 200, found_account, {}
    if method == "GET" and rest == "/bankAccounts":
        with company.lock:
            banks = list(company.bank_accounts.values())
        page, headers = paged(banks, query)
        return 200, page, headers
    if method == "GET" and rest == "/contacts":
        with company.lock:
            contacts = [c for c in company.contacts.values() if _contact_matches(c, query)]
        page, headers = paged(contacts, query)
        return 200, page, headers
    if method == "POST" and rest == "/generalJournalEntries":
        location = box.post_entry(company, body, commit=commit)
        return 201, None, ({"Location": location} if location else {})
    if method == "GET" and rest == "/journalEntries":
        with company.lock:
            entries = [_public(e) for e in company.entries.values() if _dates_match(e, query)]
        page, headers = paged(entries, query)
        return 200, page, headers
    entry = re.fullmatch(r"/journalEntries/(\d+)", rest)
    if method == "GET" and entry:
        with company.lock:
            found_entry = company.entries.get(int(entry.group(1)))
        if found_entry is None:
            raise Problem(404, f"Fant ikke postering {entry.group(1)}")
        return 200, _public(found_entry), {}
    transaction = re.fullmatch(r"/transactions/(\d+)", rest)
    if method == "GET" and transaction:
        with company.lock:
            found_transaction = company.transactions.get(int(transaction.group(1)))
        if found_transaction is None:
            raise Problem(404, f"Fant ikke transaksjon {transaction.group(1)}")
        return 200, {**found_transaction, "entries": [_public(e) for e in found_transaction["entries"]]}, {}
    from sandboxes.fiken.invoices import route as sales_route

    answer = sales_route(box, company, method, rest, query, body, commit=commit)
    if answer is not None:
        return answer
    if rest in ("/generalJournalEntries", "/journalEntries", "/contacts", "/accounts"):
        raise Problem(405, f"Method {method} not allowed on /api/v2{path}")
    raise Problem(404, f"No such endpoint: {method} /api/v2{path}")


def _int(query: dict[str, str], name: str, default: int) -> int:
    from sandboxes.fiken.server import Problem

    try:
        return int(query[name]) if name in query else default
    except ValueError:
        raise Problem(400, f"{name} må være et heltall") from None


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry as Fiken returns it (the description with Fiken's prefix), private fields dropped."""
    from sandboxes.fiken.entries import PREFIX

    shown = {k: v for k, v in entry.items() if not k.startswith("_")}
    shown["description"] = PREFIX + str(entry["description"])
    return shown


def _contact_matches(contact: dict[str, Any], query: dict[str, str]) -> bool:
    for name in ("customerNumber", "supplierNumber", "memberNumber", "name", "organizationNumber", "phoneNumber"):
        if name in query and str(contact.get(name)) != query[name]:
            return False
    if "email" in query and str(contact.get("email") or "").lower() != query["email"].lower():
        return False
    for flag in ("customer", "supplier", "inactive"):
        if flag in query and bool(contact.get(flag)) != (query[flag] == "true"):
            return False
    return True


def _dates_match(entry: dict[str, Any], query: dict[str, str]) -> bool:
    for name, wanted in query.items():
        match = _DATES.match(name)
        if match is None:
            continue
        value = str(entry.get(_FIELD[match.group(1)]) or "")
        how = match.group(2)
        if (how is None and value != wanted) or (how == "Le" and not value <= wanted) or \
                (how == "Lt" and not value < wanted) or (how == "Ge" and not value >= wanted) or \
                (how == "Gt" and not value > wanted):
            return False
    return True
