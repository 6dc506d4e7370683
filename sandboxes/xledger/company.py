"""The Xledger sandbox's entity: its registers, its GL import staging area, and how import items become vouchers.

What the GL import does is only partly documented (reference/target-apis.md §6.3), so the entity can behave
either way, and tests hold the connector to both:
- `processing="immediate"`: the items of a `trRegNumber` become a voucher as soon as they are added;
  `"deferred"`: they wait in `glImportItems` until `process()` runs (Xledger's import job, at a time of its choosing).
- `keep_processed`: processed items stay readable in `glImportItems` (`archive: true`) or vanish from it.
- `atomic`: a refused node refuses the whole `addGLImportItems` call, or only its own voucher's nodes.
Processing refuses an unbalanced voucher, a posting date in a closed period and a tax rule on an account without
VAT: the items stay, with their errors in `glImportItemErrors` [unverified wording, as all messages here except
the "No value matching owner" one, which integrators quote].
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

OWNER = 42365431
SOURCES = ("GL", "AR", "AP", "SO")  # transaction sources (voucher series) the entity has


class Refused(Exception):
    """A GraphQL error as Xledger writes it: a message, and sometimes a top-level `code`."""

    def __init__(self, message: str, *, code: str | None = None, clients: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.code, self.clients = message, code, clients


def _register(rows: list[tuple[str, str]], start: int, **extra: Any) -> dict[str, dict[str, Any]]:
    return {code: {"dbId": start + i, "code": code, "description": text, **extra} for i, (code, text) in enumerate(rows)}


@dataclass
class Entity:
    """One Xledger entity (a company) with a Norwegian chart of accounts and the demo's registers."""

    name: str = "Demo Butikk Ærø AS"
    processing: str = "immediate"
    keep_processed: bool = False
    atomic: bool = True
    closed_through: dt.date | None = None
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tax_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    object_kinds: dict[str, int] = field(default_factory=lambda: {"TAX_RULE": 501, "DEPARTMENT": 502})
    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    vouchers: list[dict[str, Any]] = field(default_factory=list)  # headers, each with its `lines`
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(900001))

    def __post_init__(self) -> None:
        if not self.accounts:
            vat = {"1500": False, "1900": False, "1920": False, "2400": False, "2700": False, "2710": False}
            rows = [("1500", "Kundefordringer"), ("1900", "Kontanter"), ("1920", "Bankinnskudd"), ("2400", "Leverandørgjeld"),
                    ("2700", "Utgående merverdiavgift"), ("2710", "Inngående merverdiavgift"),
                    ("3000", "Salgsinntekt, avgiftspliktig"), ("3010", "Salgsinntekt, avgiftspliktig, annen"),
                    ("3020", "Salgsinntekt, lav sats"), ("4300", "Innkjøp av varer for videresalg"),
                    ("6300", "Leie lokale"), ("7770", "Bank- og kortgebyrer")]
            self.accounts = _register(rows, 1001, posting=True)
            for code, row in self.accounts.items():
                row["vat"] = vat.get(code, True)
                row["closed"] = False
        if not self.tax_rules:  # codes as the SAF-T standard VAT codes [unverified: each entity sets its own]
            self.tax_rules = _register([("0", "Ingen mva"), ("1", "Inngående mva 25 %"), ("3", "Utgående mva 25 %"),
                                        ("31", "Utgående mva 15 %"), ("33", "Utgående mva 12 %"),
                                        ("5", "Utgående mva 0 %, innenlands"), ("6", "Utenfor mva-området")], 2001)
        if not self.customers:
            self.customers = _register([("10001", "Fjordkafé Ålesund AS"), ("10002", "Bjørnøya Handel AS")], 3001)
        if not self.suppliers:
            self.suppliers = _register([("20001", "Grønt og Godt Leverandør AS")], 4001)
        if not self.projects:
            self.projects = _register([("100", "Sommerkampanje Ærø")], 5001)
        if not self.departments:
            self.departments = _register([("1", "Butikk Lillehammer"), ("2", "Nettbutikk")], 6001)

    # -- registers ----------------------------------------------------------------------------------------------

    def object_values(self, kind: int | None) -> list[dict[str, Any]]:
        names = {v: k for k, v in self.object_kinds.items()}
        chosen = {"TAX_RULE": self.tax_rules, "DEPARTMENT": self.departments}
        out = []
        for name, register in chosen.items():
            if kind is None or names.get(kind) == name:
                out += [{**row, "objectKind": {"dbId": self.object_kinds[name], "name": name}}
                        for row in register.values()]
        return out

    def close_account(self, code: str) -> None:
        self.accounts[code]["closed"] = True

    # -- adding import items ----------------------------------------------------------------------------------

    def _missing(self, node: dict[str, Any], where: str, register: dict[str, dict[str, Any]] | None,
                 *, label: str | None = None) -> str | None:
        ref = node.get(where)
        if ref is None or register is None:
            return None
        code = str(ref.get("code") or "")
        row = register.get(code)
        if row is None or row.get("closed"):
            return f"{label or where}.code: No value matching owner {OWNER}, code '{code}'."
        return None

    def _check_node(self, node: dict[str, Any]) -> list[str]:
        found = [self._missing(node, "account", self.accounts), self._missing(node, "taxRule", self.tax_rules),
                 self._missing(node, "project", self.projects)]
        for n in range(1, 6):
            found.append(self._missing(node, f"glObject{n}", self.departments))
        ledger = node.get("subledger")
        if ledger is not None and str(ledger.get("code")) not in {**self.customers, **self.suppliers}:
            found.append(f"subledger.code: No value matching owner {OWNER}, code '{ledger.get('code')}'.")
        source = (node.get("transactionSource") or {}).get("code")
        if source not in SOURCES:
            found.append(f"transactionSource.code: No value matching owner {OWNER}, code '{source}'.")
        if node.get("trRegNumber") is None:
            found.append("trRegNumber: a value is required.")
        if node.get("postedDate") is None:
            found.append("postedDate: a value is required.")
        try:
            Decimal(str(node.get("amount")))
        except InvalidOperation:
            found.append(f"amount: '{node.get('amount')}' is not a number.")
        return [f for f in found if f]

    def add(self, inputs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Refused]]:
        """Store the nodes (or refuse them); `(edges, errors)` as the mutation answers them."""
        if len(inputs) > 500:
            raise Refused(f"inputs: at most 500 nodes per call, got {len(inputs)}.")
        refused: list[Refused] = []
        bad_groups: set[Any] = set()
        for i, wrapped in enumerate(inputs):
            messages = self._check_node(wrapped["node"])
            if messages:
                refused += [Refused(f"inputs[{i}].node.{m}", clients=(wrapped.get("clientId") or "",))
                            for m in messages]
                bad_groups.add(wrapped["node"].get("trRegNumber"))
        if refused and self.atomic:
            return [], refused
        edges = []
        with self.lock:
            for wrapped in inputs:
                node = wrapped["node"]
                if node.get("trRegNumber") in bad_groups:
                    continue
                item = {**node, "dbId": next(self._ids), "amount": str(Decimal(str(node["amount"]))),
                        "archive": False, "createdAt": dt.datetime.now(dt.UTC).isoformat(), "_state": "pending"}
                self.items.append(item)
                edges.append({"clientId": wrapped.get("clientId"), "node": item})
            if self.processing == "immediate":
                self.process()
        return edges, refused

    # -- processing (Xledger's import job) --------------------------------------------------------------------

    def _refusal(self, lines: list[dict[str, Any]]) -> list[str]:
        problems = []
        total = sum((Decimal(i["amount"]) for i in lines), Decimal(0))
        if total != 0:
            problems.append(f"trRegNumber {lines[0]['trRegNumber']}: the transaction does not balance "
                            f"(difference {total}).")
        posted = dt.date.fromisoformat(str(lines[0]["postedDate"]))
        if self.closed_through is not None and posted <= self.closed_through:
            problems.append(f"postedDate: the period of {posted.isoformat()} is closed.")
        for item in lines:
            account = self.accounts.get(str(item["account"]["code"]), {})
            if item.get("taxRule") and not account.get("vat", True):
                problems.append(f"taxRule: account {account.get('code')} does not take a tax rule.")
        return problems

    def process(self) -> int:
        """Turn pending items into vouchers, one per trRegNumber; refused ones keep their errors. Returns how
        many vouchers were made."""
        made = 0
        with self.lock:
            groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
            for item in self.items:
                if item["_state"] == "pending":
                    groups[item["trRegNumber"]].append(item)
            for number, lines in groups.items():
                problems = self._refusal(lines)
                if problems:
                    for item in lines:
                        item["_state"] = "failed"
                    self.errors += [{"dbId": next(self._ids), "message": m, "field": m.split(":")[0],
                                     "glImportItem": lines[0]} for m in problems]
                    continue
                header = {"dbId": next(self._ids), "transactionNumber": len(self.vouchers) + 1,
                          "postedDate": lines[0]["postedDate"], "text": lines[0].get("text"),
                          "importedAt": dt.datetime.now(dt.UTC).isoformat(),
                          "transactionSource": {"code": lines[0]["transactionSource"]["code"]},
                          "_workflow": bool(lines[0].get("workflow")), "_trRegNumber": number}
                header["lines"] = [{"dbId": next(self._ids), "text": i.get("text"), "amount": i["amount"],
                                    "extIdentifier": i.get("extIdentifier"), "account": i["account"],
                                    "header": header} for i in lines]
                self.vouchers.append(header)
                made += 1
                for item in lines:
                    item["_state"] = "processed"
                    item["archive"] = True
            if not self.keep_processed:
                self.items = [i for i in self.items if i["_state"] != "processed"]
        return made

    def staged(self) -> list[dict[str, Any]]:
        """Import items as `glImportItems` lists them."""
        with self.lock:
            return list(self.items)

    def transactions(self) -> list[dict[str, Any]]:
        with self.lock:
            return [line for header in self.vouchers for line in header["lines"]]
