"""The Finago Office target: shared-form vouchers saved through AccountService.SaveBundleList, as a bundle in the
journal for review (drafts, the default) or straight to the ledger (the tenant's opt-in).

API: developer.24sevenoffice.com (AccountService, TransactionService, Authenticate); WSDLs kept in
`../shared/specs/finago-office/`; facts in reference/target-apis.md §4 and docs/fidelity.md. The package:
`descriptor.py` (settings, secrets, what it accepts), `client.py` (SOAP over the shared HTTP stack, zeep over the
services' own WSDLs), `session.py` (login, the client), `mapping.py` (pure mapping), `register.py` (lookups and
preflight), `sent.py` (our record of each send), and here the target.

Exactly once, by 24SevenOffice's own means and ours:
1. The idempotency ledger (pipeline/ledger.py) lets one attempt at a time deliver a reference, and asks `find`
   before sending again after an unknown outcome.
2. `find` reads our record of the send (sent.py): saved (an `Ok` was answered) → found; sent without an answer →
   `GetTransactions(InvoiceNo=<our marker>)` over the voucher's date finds it in the ledger.
3. What `find` cannot see — a bundle in the journal, which the API does not read back [unverified] — 24SevenOffice
   itself catches when it is sent again: our marker is already there, so SaveBundleList answers `DuplicateData`
   (the `invoicealreadyexists` warning, which we never ignore). Sent again after an unknown outcome, that answer
   means "ours is there" and is recorded so. `DataAlreadySaved` (a voucher number already used) is believed only
   when the ledger shows our marker; otherwise the voucher is sent again with a new number.
4. Should 24SevenOffice not check the journal for the marker either [unverified], a draft sent again after an
   unknown outcome could be there twice — as a draft, never posted: it goes in with a name that says so
   (mapping.RESENT) and the delivery says so too, for the person who reviews the journal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from connectors.http import kept
from connectors.targets.finago_office import register as registers
from connectors.targets.finago_office.client import SESSION_ENDED, Soap
from connectors.targets.finago_office.descriptor import FinagoOfficeSettings
from connectors.targets.finago_office.mapping import (
    NAME,
    UNSUPPORTED_DOCUMENTS,
    Register,
    bundle_list,
    bundle_name,
    delivery,
    marker,
    markers,
    not_accepted,
)
from connectors.targets.finago_office.sent import Sent
from connectors.targets.finago_office.session import Session
from pipeline.errors import BilagsbroError, ConfigError, DataError, OutcomeUnknown, Problem, TransientError
from pipeline.model import Document, Voucher
from pipeline.ports import Delivery, TargetContext

DEFAULT_TYPE = "diverse"  # [unverified] the name of the voucher type for miscellaneous vouchers on a Norwegian client


class Numbers:
    """Voucher numbers from GetEntryId, never the same one twice from this connection (workers ask at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[tuple[int, int], int] = {}

    def next(self, target: FinagoOfficeTarget, day: dt.date, series: int) -> int:
        with self._lock:
            answer = target.read("account", "GetEntryId", argEntryId={"Date": f"{day.isoformat()}T00:00:00",
                                                                      "SortNo": series, "EntryNo": 0})
            number = max(int((answer or {}).get("EntryNo") or 0), self._last.get((day.year, series), 0) + 1)
            self._last[(day.year, series)] = number
            return number


class FinagoOfficeTarget:
    name = NAME

    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self.settings = FinagoOfficeSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.draft = not self.settings.direct_posting
        s = self.settings
        self.soap = kept(context, (NAME, "soap", s.base_url, s.webservices_url, s.timeout),
                         lambda: Soap(context, base_url=s.base_url, webservices_url=s.webservices_url,
                                      timeout=s.timeout))
        application_id = context.secret("application_id", connector=NAME)
        password = context.secret("password", connector=NAME)
        fingerprint = hashlib.sha256(f"{application_id}\0{password}".encode()).hexdigest()[:16]
        self.session: Session = kept(context, (NAME, "session", s.username, s.client_id, fingerprint),
                                     lambda: Session(application_id=application_id, username=s.username,
                                                     password=password, client_id=s.client_id, tenant=context.tenant))
        self.numbers: Numbers = kept(context, (NAME, "numbers"), Numbers)

    # -- calls --------------------------------------------------------------------------------------

    def read(self, service: str, operation: str, **params: Any) -> Any:
        return self._call(service, operation, **params)

    def _call(self, service: str, operation: str, *, write: bool = False, reference: str | None = None,
              request_id: str | None = None, **params: Any) -> Any:
        """A call in the session; a session that has ended is renewed once (nothing was done under it)."""
        session = self.session.current(self.soap)
        for attempt in (1, 2):
            try:
                answer = self.soap.call(service, operation, session=session, write=write, reference=reference,
                                        request_id=request_id, **params)
            except BilagsbroError as exc:
                if attempt == 2 or not SESSION_ENDED.search(exc.provider_message or ""):
                    raise
                session = self.session.renew(self.soap, session)
                continue
            if not (isinstance(answer, dict) and answer.get("Type") == "NotAuthenticated"):
                return answer
            if attempt == 1:
                session = self.session.renew(self.soap, session)
        raise ConfigError(f"Finago Office does not accept {self.settings.username}'s session for {operation}: the "
                          "user may lack access to the client's accounting", tenant=self.context.tenant,
                          reference=reference, connector=NAME)

    def _sent(self) -> Sent:
        self.session.current(self.soap)
        assert self.session.identity is not None
        return Sent(self.context, self.session.identity.client_id)

    def _voucher_type(self, types: dict[str, dict[str, Any]]) -> dict[str, Any]:
        wanted = self.settings.transaction_type
        found = types.get(str(wanted)) if wanted is not None else next(
            (t for t in types.values() if str(t.get("Title", "")).strip().lower() == DEFAULT_TYPE), None)
        if found is None:
            listed = ", ".join(f"{t['TypeNo']} {t.get('Title') or ''}".strip() for t in types.values()) or "none"
            what = f"voucher type {wanted}" if wanted is not None else "voucher type named 'Diverse'"
            raise ConfigError(f"Finago Office has no {what}; choose one with transaction_type (its types: {listed})",
                              tenant=self.context.tenant, connector=NAME)
        return found

    # -- the Target protocol ------------------------------------------------------------------------

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems = [Problem(f"the Finago Office connector does not deliver {d.type} yet", reference=d.reference,
                            code="unsupported-document") for d in documents if d.type in UNSUPPORTED_DOCUMENTS]
        vouchers = [d for d in documents if isinstance(d, Voucher)]
        if vouchers:
            register = registers.resolve(self, vouchers)
            for voucher in vouchers:
                problems.extend(registers.problems(voucher, register, draft=self.draft))
        return problems

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which of these account numbers the tenant's chart cannot take, and why (pipeline.ports.ChartOfAccounts)."""
        numbers = list(numbers)
        accounts = self.context.lookups.fill("accounts", [str(int(n)) for n in numbers if n.isdigit()],
                                             registers.whole_list(self, "account", "GetAccountList", "AccountNo"))
        return registers.missing_accounts(numbers, accounts)

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"the Finago Office connector does not deliver {document.type} yet: only vouchers",
                            tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def _prepared(self, voucher: Voucher) -> tuple[Register, dict[str, Any], int]:
        register = registers.resolve(self, [voucher])
        problems = registers.problems(voucher, register, draft=self.draft)
        if problems:
            raise DataError(f"Finago Office lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=tuple(problems))
        year = registers.year_of(voucher.date, register)
        assert year is not None  # problems() said so otherwise
        return register, self._voucher_type(register.types), registers._naive(year["StartingDate"]).year

    def render(self, document: Document) -> dict[str, Any]:
        """The BundleList deliver() would send, sending nothing: its TransactionNo (0 here) is GetEntryId's at
        delivery. A voucher with problems is rendered as far as it resolves (dry runs show them beside it)."""
        voucher = self._voucher(document)
        register = registers.resolve(self, [voucher])
        year = registers.year_of(voucher.date, register)
        try:
            kind = int(self._voucher_type(register.types)["TypeNo"])
        except ConfigError:
            kind = self.settings.transaction_type or 0
        return bundle_list(voucher, register, draft=self.draft, transaction_no=0, voucher_type=kind,
                           year=registers._naive(year["StartingDate"]).year if year else voucher.date.year)

    def deliver(self, document: Document) -> Delivery:
        voucher = self._voucher(document)
        reference = voucher.reference
        register, kind, year = self._prepared(voucher)
        sent = self._sent()
        before = sent.get(reference)
        again = before is not None and before.get("State") != "saved"
        number = self.numbers.next(self, voucher.date, int(kind["EntrySeriesId"]))
        body = bundle_list(voucher, register, draft=self.draft, year=year, transaction_no=number,
                           voucher_type=int(kind["TypeNo"]), resent=again)
        sent.begin(reference, Date=voucher.date.isoformat(), Draft=self.draft, Markers=markers(voucher),
                   Marker=marker(reference), Year=year, TransactionNo=number, RemoteId=None,
                   BundleName=bundle_name(reference, resent=again) if self.draft else None,
                   Lines=_fingerprint(body))
        request_id = str(uuid.uuid4())
        answer = self._call("account", "SaveBundleList", write=True, reference=reference, request_id=request_id,
                            BundleList=body) or {}
        kind_of, said = str(answer.get("Type") or ""), str(answer.get("Description") or "") or None
        facts: dict[str, Any] = {}
        if again and self.draft:
            facts["warning"] = (f"sent again after an unknown outcome: if Finago Office's journal holds two bundles "
                                f"for {reference}, delete the one named '{bundle_name(reference, resent=True)}'")
        if kind_of == "Ok":
            record = sent.saved(reference, RemoteId=f"{year}-{number}")
            return delivery(record, not_accepted=not_accepted(voucher), **facts)
        context: dict[str, Any] = {"tenant": self.context.tenant, "reference": reference, "connector": NAME,
                                   "status": 200, "provider_message": said, "request_id": request_id}
        if kind_of in ("DuplicateData", "DataAlreadySaved"):
            return self._already(voucher, sent, before, kind_of, context)
        if kind_of == "SystemError":
            raise OutcomeUnknown(f"Finago Office answered SystemError to voucher {reference}: it may have been saved",
                                 **context)
        if kind_of == "NotAuthenticated":
            raise ConfigError(f"Finago Office refused {self.settings.username}'s session for voucher {reference}",
                              **context)
        problem = Problem(f"Finago Office refused it ({kind_of}): {said}", field="lines", reference=reference,
                          code="refused-by-finago-office")
        raise DataError(f"Finago Office refused voucher {reference} ({kind_of or 'no answer type'})", **context,
                        problems=(problem,))

    def _already(self, voucher: Voucher, sent: Sent, before: dict[str, Any] | None, kind: str,
                 context: dict[str, Any]) -> Delivery:
        """SaveBundleList said the data is there already: ours (found, or our marker caught), or someone else's."""
        reference = voucher.reference
        record = sent.get(reference) or {}
        found = self._search(record)
        if found is not None:
            return delivery(found, not_accepted=not_accepted(voucher), answer=kind, already_there=True)
        ours = marker(reference) in (record.get("Markers") or [])
        if kind == "DuplicateData" and before is not None and ours:
            saved = sent.saved(reference, Year=before.get("Year"), TransactionNo=before.get("TransactionNo"),
                               RemoteId=f"{before.get('Year')}-{before.get('TransactionNo')}",
                               BundleName=before.get("BundleName"))
            return delivery(saved, not_accepted=not_accepted(voucher), answer=kind, already_there=True,
                            note="an earlier send was saved: Finago Office recognised our reference")
        if kind == "DataAlreadySaved":
            raise TransientError(f"Finago Office says voucher number {record.get('TransactionNo')} is already used "
                                 f"(DataAlreadySaved) and holds no voucher with reference {reference}: it is sent "
                                 "again with a new number", **context)
        raise DataError(f"Finago Office already holds an entry with a reference of voucher {reference} "
                        f"({', '.join(record.get('Markers') or [])}): {kind}", **context)

    def _search(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Our voucher in the ledger, by the marker (or, without one, the invoice number and the same lines)."""
        wanted = record.get("Markers") or []
        if not wanted or not record.get("Date"):
            return None
        day = dt.date.fromisoformat(str(record["Date"]))
        rows = self.read("transaction", "GetTransactions", searchParams={
            "DateStart": f"{day.isoformat()}T00:00:00", "DateEnd": f"{(day + dt.timedelta(days=1)).isoformat()}T00:00:00",
            "InvoiceNo": wanted[0], "SystemType": None, "HasInvoiceId": None}) or []
        groups: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            if row and row.get("InvoiceNo") == wanted[0]:
                groups.setdefault(int(row["TransactionNo"]), []).append(row)
        ours = wanted[0] == record.get("Marker")
        for number, group in sorted(groups.items()):
            if ours or _fingerprint_rows(group) == record.get("Lines"):
                draft = bool(record.get("Draft")) and all(bool(r.get("Hidden")) for r in group)
                sent = self._sent()
                return sent.saved(str(record["Reference"]), RemoteId=f"{record.get('Year')}-{number}",
                                  TransactionNo=number, Draft=draft)
        return None

    def find(self, reference: str) -> Delivery | None:
        sent = self._sent()
        record = sent.get(reference)
        if record is None:
            return None  # never sent from this connection: nothing of ours can be there
        if record.get("State") == "saved":
            return delivery(record)
        found = self._search(record)
        return delivery(found, found_by="GetTransactions") if found is not None else None

    def check(self) -> dict[str, Any]:
        """The connection test: who the login reaches, in which client, and whether it may keep the books."""
        self.session.current(self.soap)
        identity = self.session.identity
        assert identity is not None
        information = self.read("client", "GetClientInformation") or {}
        types = {str(t["TypeNo"]): t for t in self.read("account", "GetTypeList") or [] if t}
        kind = self._voucher_type(types)
        try:
            accounts = self.read("account", "GetAccountList") or []
        except BilagsbroError as exc:
            raise ConfigError(f"{self.settings.username} may not read client {identity.client_id}'s chart of "
                              "accounts: give the user access to Regnskap (accounting) in Finago Office",
                              tenant=self.context.tenant, connector=NAME, provider_message=exc.provider_message,
                              request_id=exc.request_id) from exc
        years = self.read("transaction", "GetFiscalYears") or []
        return {"target": NAME, "base_url": self.settings.base_url, "client_id": identity.client_id,
                "company": information.get("Name") or identity.client,
                "organization_number": information.get("OrganizationNumber"), "user": self.settings.username,
                "clients_reachable": len(identity.reachable), "direct_posting": self.settings.direct_posting,
                "voucher_type": f"{kind['TypeNo']} {kind.get('Title') or ''}".strip(), "accounts": len(accounts),
                "open_years": sorted(registers._naive(y["StartingDate"]).year for y in years
                                     if y and not y.get("IsLocked"))}


def _fingerprint(body: dict[str, Any]) -> str:
    """The lines a BundleList sends, as (account, amount) pairs in order: how a voucher without our marker is told."""
    lines = [(e["AccountNo"], f"{e['Amount']:.2f}") for bundle in body["Bundles"]["Bundle"]
             for voucher in bundle["Vouchers"]["Voucher"] for e in voucher["Entries"]["Entry"]]
    return ";".join(f"{a}:{m}" for a, m in sorted(lines))


def _fingerprint_rows(rows: list[dict[str, Any]]) -> str:
    return ";".join(f"{a}:{m}" for a, m in sorted((r["AccountNo"], f"{r['Amount']:.2f}") for r in rows))
