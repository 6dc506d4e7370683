"""The Xledger target: shared-form vouchers as general-ledger import items over Xledger's GraphQL API.

API: https://www.xledger.net/graphql (demo https://demo.xledger.net/graphql); facts in reference/target-apis.md §6,
what is unverified in docs/fidelity.md ("Xledger"). The package, as every target built with the kit: descriptor.py
(settings, the API token, what Xledger accepts), client.py (token auth, GraphQL errors), mapping.py (pure
mapping), batch.py (vouchers of concurrent deliveries in one call), numbers.py (registration numbers), and here
the target itself.

- Delivery: `addGLImportItems`, one item per line, the lines of a voucher sharing a `trRegNumber`; concurrent
  deliveries of a connection share calls (batch.py), so a burst costs far less than a request per voucher.
- Drafts: items go with `workflow: true` (the voucher waits for approval in Xledger's workflow) unless the tenant
  opted in to direct posting [unverified: docs/fidelity.md].
- Exactly once, however Xledger processes its import (at once or later; keeping processed items or not): our
  reference travels in `extIdentifier` on every item, and `find` asks in one query for the import items
  (waiting, or kept as archive), the import errors, and the posted transactions carrying it; the idempotency ledger
  asks `find` before anything is sent again after an unknown outcome. Items Xledger refused when it processed the
  import are read back as a DataError naming Xledger's words: a person must clear them in Xledger first.
- Preflight: accounts (open ones), tax rules, customers and suppliers (by code), the department (an object value
  of the kind `department_kind`) and the project — each kind looked up once per burst (pipeline.lookups).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx

from connectors.http import client_for, kept
from connectors.targets.xledger import batch, mapping
from connectors.targets.xledger.client import DIALECT, GraphQL, TokenAuth
from connectors.targets.xledger.descriptor import NAME, XledgerSettings
from connectors.targets.xledger.numbers import Numbers
from pipeline.errors import DataError, Problem
from pipeline.model import Document, Voucher
from pipeline.ports import Delivery, TargetContext

ADD = ("mutation Add($inputs: [AddGLImportItemsInput!]!) { addGLImportItems(inputs: $inputs) "
       "{ edges { clientId node { dbId } } } }")
FIND = """query Find($refs: [String!]) {
  glImportItems(first: 10000, filter: {extIdentifier_in: $refs}) {
    edges { node { dbId trRegNumber extIdentifier archive workflow } } }
  glImportItemErrors(first: 1000, filter: {extIdentifier_in: $refs}) {
    edges { node { message field glImportItem { extIdentifier } } } }
  transactions(first: 10000, filter: {extIdentifier_in: $refs}) {
    edges { node { dbId extIdentifier header { dbId transactionNumber } } } }
}"""
CHECK = """query Check { entities(first: 2) { edges { node { dbId code description } } }
  accounts(first: 1) { edges { node { code } } } glImportItems(first: 1) { edges { node { dbId } } } }"""
REGISTERS = {"accounts": "accounts", "customers": "customers", "suppliers": "suppliers", "projects": "projects"}


def _codes(kind: str, status: bool = False) -> str:
    extra = ", objectStatus: OPEN" if status else ""
    fields = "code description vat" if kind == "accounts" else "code description"
    return (f"query Codes($codes: [String!]) {{ {kind}(first: 10000, filter: {{code_in: $codes}}{extra}) "
            f"{{ edges {{ node {{ {fields} }} }} }} }}")


def _values() -> str:
    return ("query Values($kind: Int, $codes: [String!]) { objectValues(first: 10000, "
            "filter: {objectKindDbId: $kind, code_in: $codes}) { edges { node { code description } } } }")


class XledgerTarget:
    name = NAME

    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self.settings = XledgerSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.draft = not self.settings.direct_posting

    # -- plumbing -----------------------------------------------------------------------------------------------

    @property
    def graphql(self) -> GraphQL:
        token = self.context.secret("api_token", connector=NAME)
        auth = kept(self.context, (NAME, "auth", self.settings.base_url, token), lambda: TokenAuth(token))
        client: httpx.Client = client_for(self.context, DIALECT, base_url=self.settings.base_url, auth=auth,
                                          timeout=self.settings.timeout)
        return GraphQL(client, self.settings.base_url, tenant=self.context.tenant, sleep=self.context.sleep)

    def _batcher(self) -> batch.Batcher:
        return kept(self.context, (NAME, "batcher", self.settings.base_url, self.draft),
                    lambda: batch.Batcher(self._send))

    def _numbers(self) -> Numbers:
        return kept(self.context, (NAME, "numbers"), lambda: Numbers(self.context.tables, self.context.tenant))

    # -- the register -------------------------------------------------------------------------------------------

    def _fetch(self, kind: str) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
        def fetch(codes: list[str]) -> dict[str, dict[str, Any]]:
            data = self.graphql.run(_codes(kind, status=kind == "accounts"), {"codes": codes})
            return {str(e["node"]["code"]): e["node"] for e in data[kind]["edges"]}
        return fetch

    def _kind(self, name: str) -> int | None:
        def fetch(names: list[str]) -> dict[str, dict[str, Any]]:
            data = self.graphql.run("query Kinds { objectKinds(first: 1000) { edges { node { dbId name } } } }")
            return {str(e["node"]["name"]): e["node"] for e in data["objectKinds"]["edges"]}
        self.context.lookups.fill("object_kinds", [name], fetch)
        found = self.context.lookups.table("object_kinds").get(name)
        return int(found["dbId"]) if found else None

    def _object_values(self, kind_name: str) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
        def fetch(codes: list[str]) -> dict[str, dict[str, Any]]:
            kind = self._kind(kind_name)
            if kind is None:
                return {}
            data = self.graphql.run(_values(), {"kind": kind, "codes": codes})
            return {str(e["node"]["code"]): e["node"] for e in data["objectValues"]["edges"]}
        return fetch

    def resolve(self, vouchers: Sequence[Voucher]) -> mapping.Register:
        """Fill the connection's register with what these vouchers need: one lookup per kind, at most."""
        lines = [line for voucher in vouchers for line in voucher.lines]
        lookups = self.context.lookups
        lookups.fill("accounts", [line.account for line in lines], self._fetch("accounts"))
        lookups.fill("tax_rules", [mapping.tax_rule(line.vat_code, self.settings) for line in lines
                                   if line.vat_code is not None], self._object_values("TAX_RULE"))
        for kind, parties in (("customers", [line.customer for line in lines]),
                              ("suppliers", [line.supplier for line in lines])):
            lookups.fill(kind, [c for p in parties if (c := mapping.party_code(p))], self._fetch(kind))
        lookups.fill("departments", [line.dimensions["department"] for line in lines if "department" in line.dimensions],
                     self._object_values(self.settings.department_kind))
        lookups.fill("projects", [line.dimensions["project"] for line in lines if "project" in line.dimensions],
                     self._fetch("projects"))
        return mapping.Register(**{k: lookups.table(k) for k in ("accounts", "tax_rules", "customers", "suppliers",
                                                                 "departments", "projects")})

    # -- the Target protocol ------------------------------------------------------------------------------------

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems = [Problem(f"the Xledger connector delivers vouchers only, not {d.type}", reference=d.reference,
                            code="unsupported-document") for d in documents if not isinstance(d, Voucher)]
        vouchers = [d for d in documents if isinstance(d, Voucher)]
        if vouchers:
            register = self.resolve(vouchers)
            for voucher in vouchers:
                problems += mapping.problems_for(voucher, register, self.settings)
        return problems

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which of these accounts cannot be booked on in the entity (pipeline.ports.ChartOfAccounts)."""
        wanted = sorted(set(numbers))
        found = self._fetch("accounts")(wanted) if wanted else {}
        return {n: "is not an open account in Xledger" for n in wanted if n not in found}

    def render(self, document: Document) -> dict[str, Any]:
        voucher = self._voucher(document)
        return {"inputs": mapping.nodes(voucher, number=0, settings=self.settings, draft=self.draft),
                "note": "trRegNumber is given when the voucher is sent"}

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"the Xledger connector delivers vouchers only, not {document.type}",
                            tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def deliver(self, document: Document) -> Delivery:
        voucher = self._voucher(document)
        problems = mapping.problems_for(voucher, self.resolve([voucher]), self.settings)
        if problems:
            raise DataError(f"Xledger lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=tuple(problems))
        entry = self._batcher().submit(batch.Entry(voucher, len(voucher.lines), self.context.exchanges))
        if entry.error is not None:
            raise entry.error
        assert entry.delivery is not None
        return entry.delivery

    def _send(self, entries: list[batch.Entry]) -> None:
        """One `addGLImportItems` for these entries (run by whichever delivery sends for the batch)."""
        numbers = self._numbers().take(len(entries))
        inputs: list[dict[str, Any]] = []
        index: list[tuple[str, int]] = []
        for entry, number in zip(entries, numbers, strict=True):
            for i, node in enumerate(mapping.nodes(entry.voucher, number=number, settings=self.settings,
                                                   draft=self.draft)):
                inputs.append(node)
                index.append((entry.voucher.reference, i))
        log = batch.FanOut([e.exchanges for e in entries])
        reference = entries[0].voucher.reference if len(entries) == 1 else None
        try:
            data = self.graphql.run(ADD, {"inputs": inputs}, reference=reference, exchanges=log, mutation=True)
        except DataError as exc:
            said = [str(e.get("message")) for e in getattr(exc, "graphql_errors", ())]
            exc.problems = tuple(mapping.refusal_problems(said, index)) or exc.problems
            if len(entries) == 1:
                entries[0].fail(exc)
                return
            self._settle_refused(entries)
            return
        edges = data["addGLImportItems"]["edges"]
        for entry, number in zip(entries, numbers, strict=True):
            mine = [e for e in edges if str(e.get("clientId") or "").rsplit("#", 1)[0] == entry.voucher.reference]
            entry.succeed(batch.delivery(mine, number=number, draft=self.draft,
                                         not_accepted=mapping.not_accepted(entry.voucher)))

    def _settle_refused(self, entries: list[batch.Entry]) -> None:
        """A call of several vouchers refused: settle those Xledger holds anyway, send each of the others alone."""
        held, refused = self._found([e.voucher.reference for e in entries])
        rest = []
        for entry in entries:
            found = held.get(entry.voucher.reference)
            if entry.voucher.reference in refused:
                entry.fail(refused[entry.voucher.reference])
            elif found is not None:
                entry.succeed(found)
            else:
                rest.append(entry)
        self._batcher().again(rest)

    def _found(self, references: list[str]) -> tuple[dict[str, Delivery], dict[str, DataError]]:
        """What Xledger holds of these references, and the ones whose import it refused when processing it."""
        data = self.graphql.run(FIND, {"refs": references})
        errors: dict[str, list[str]] = {}
        for edge in data["glImportItemErrors"]["edges"]:
            node = edge["node"]
            errors.setdefault(str((node.get("glImportItem") or {}).get("extIdentifier")), []).append(node["message"])
        refused = {ref: DataError(f"Xledger refused the import of voucher {ref} when it processed it: "
                                  + "; ".join(said) + " (clear its import items in Xledger, then retry)",
                                  tenant=self.context.tenant, reference=ref, connector=NAME,
                                  provider_message="; ".join(said)) for ref, said in errors.items()}
        out: dict[str, Delivery] = {}
        for edge in data["glImportItems"]["edges"]:
            node = edge["node"]
            ref = str(node["extIdentifier"])
            out.setdefault(ref, Delivery(remote_id=f"gl-import/{node['trRegNumber']}",
                                         draft=bool(node.get("workflow")) if node.get("archive") else True,
                                         details={"tr_reg_number": node["trRegNumber"]}))
        for edge in data["transactions"]["edges"]:
            node = edge["node"]
            header = node.get("header") or {}
            out.setdefault(str(node["extIdentifier"]), Delivery(
                remote_id=f"voucher/{header.get('transactionNumber')}", draft=self.draft,
                details={"transaction_number": header.get("transactionNumber")}))
        return out, refused

    def find(self, reference: str) -> Delivery | None:
        """What Xledger holds of `reference`; a DataError in Xledger's words when it refused the import."""
        found, refused = self._found([reference])
        if reference in refused:
            raise refused[reference]
        return found.get(reference)

    def check(self) -> dict[str, Any]:
        """The connection test: which entity the token reaches, and that it may read accounts and the GL import
        (write access is first proven by a delivery: nothing is written here)."""
        data = self.graphql.run(CHECK)
        entities = [e["node"] for e in data["entities"]["edges"]]
        first = entities[0] if entities else {}
        return {"target": NAME, "base_url": self.settings.base_url, "company": first.get("description"),
                "entity_code": first.get("code"), "entities": len(entities),
                "direct_posting": self.settings.direct_posting}

