"""`bilagsbro demo`: the whole product in one command on a fresh machine.

Starts Azurite, the local Functions host and an accounting system's sandbox (Tripletex unless
`--target` names another from `sandboxes.registry`); creates two demo tenants — a shop on that system
and a subscription business on the open-format file target — sends the sample documents over HTTP as
a vendor would, and prints each document's four logged steps and what landed in the accounting system.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

SAMPLES = Path(__file__).parent / "samples"
FINAL = {"delivered", "blocked", "rejected", "failed"}


def run_demo(port: int = 0, timeout: float = 120.0, target: str = "tripletex") -> int:
    """The demo in a scratch folder (its secrets file included) that is gone when it ends, however it ends:
    done, failed, Ctrl+C, or terminated."""
    data_dir = Path(tempfile.mkdtemp(prefix="bilagsbro-demo-"))
    try:
        with _interrupted_by_termination():
            return _run(data_dir, port, timeout, target)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def _interrupted_by_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP end the demo as Ctrl+C does, so the `finally` above cleans up (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run(data_dir: Path, port: int, timeout: float, target: str) -> int:
    import connectors
    from bilagsbro.stack import local_stack, stores_for
    from pipeline import descriptors
    from pipeline.records.connections import change
    from pipeline.records.tenants import TenantRegistry
    from sandboxes.registry import SANDBOXES

    if target not in SANDBOXES:
        print(f"no sandbox for {target!r}; the demo can deliver to: {', '.join(sorted(SANDBOXES))}")
        return 2
    system = SANDBOXES[target]()
    try:
        with local_stack(port, data_dir=data_dir, in_memory=True, record=False) as host:
            base = f"http://127.0.0.1:{host.port}"
            stores = stores_for(host.settings["BILAGSBRO_STORAGE"], data_dir)
            registry = TenantRegistry(stores.tables)
            shop = registry.add("Demo Butikk Ærø AS", organization_number="999999999")
            # As an operator does once: the integration's own credentials (Tripletex's consumer token, ...) for
            # every tenant; each tenant then gives only its company's, in the API, the CLI and the wizard alike.
            settings, credentials = _integrations_own(stores, target, *system.connection())
            connection = change(stores, connectors.registry(), shop.id, target, settings=settings,
                                credentials=credentials)
            subscriptions = registry.add("Demo Abonnement Øst AS")
            print(f"Local stack on {base}/api   {system.title} sandbox on {settings.get('base_url')}")
            has_drafts = descriptors.targets(connectors.CONNECTORS)[target].accepts.drafts.available
            how = "drafts" if has_drafts else "direct posting: it has no drafts"
            print(f"  {shop.id} ({shop.name}) → {target} ({how}); connection test: "
                  f"{'passed, ' + str(connection.check.get('company')) if connection.activated else connection.check}")
            takes_invoices = "sales_invoice" in descriptors.targets(connectors.CONNECTORS)[target].accepts.documents
            if takes_invoices:  # the subscription system's events, posted and e-mailed by the accounting system
                change(stores, connectors.registry(), subscriptions.id, target, credentials=credentials, settings={
                    **settings, "direct_posting": True, "create_customers": True, "send_invoices": True})
            print(f"  {subscriptions.id} ({subscriptions.name}) → {target if takes_invoices else 'file'}")
            ok = _send_and_show(base, registry.issue_key(shop.id), shop.name, SAMPLES / "documents.json", timeout)
            key = registry.issue_key(subscriptions.id)
            if takes_invoices:
                ok &= _subscription_events(base, stores, subscriptions.id, key, subscriptions.name, timeout)
            else:
                ok &= _send_and_show(base, key, subscriptions.name, SAMPLES / "invoices.json", timeout)
            posted = system.posted()
            drafts = [p for p in posted if p.draft]
            print(f"\nIn the {system.title} sandbox: {len(posted)} voucher(s), {len(drafts)} as drafts:")
            for entry in posted:
                print(f"  {entry.reference}  {'draft' if entry.draft else 'posted'}  {entry.text[:100]}")
            _workspace(stores, base, system, target, shop.id)
            return 0 if ok else 1
    finally:
        system.stop()


def _integrations_own(stores: Any, target: str, settings: dict[str, Any], credentials: dict[str, str]
                      ) -> tuple[dict[str, Any], dict[str, str]]:
    """Set the sandbox's integration-owned values once for every tenant (pipeline.records.platform); what is
    left is the company's."""
    import connectors
    from pipeline.records import platform

    descriptor = connectors.CONNECTORS[target]
    ours = [key for key in platform.keys(descriptor) if key in settings or key in credentials]
    for key in ours:
        platform.set_value(stores.secrets, descriptor, key, str({**settings, **credentials}[key]))
    return ({k: v for k, v in settings.items() if k not in ours},
            {k: v for k, v in credentials.items() if k not in ours})


def _workspace(stores: Any, base: str, system: Any, target: str, shop: str) -> None:
    """The bookkeepers' workspace on the same stack: a firm with three clients, and its owner's login. On a
    terminal the stack keeps running until Ctrl+C, so the pages can be opened; otherwise the demo ends here."""
    import sys

    import connectors
    from bilagsbro.workspace_demo import seed

    demo = seed(stores, connectors.registry(), base, system, target=target, healthy=shop)
    print(f"\nThe workspace: {base}/api/app/   (bokmål; English: {base}/api/app/?lang=en)")
    print(f"  sign in as {demo.owner} with the password {demo.password}  (this demo only)")
    print(f"  clients: {demo.healthy} (healthy on {target}), {demo.blocked} (vouchers blocked: account 3999), "
          f"{demo.unconnected} (not connected)")
    if sys.stdin.isatty():
        print("The stack keeps running for the workspace. Stop: Ctrl+C", flush=True)
        while True:
            time.sleep(3600)


def _send_and_show(base: str, key: str, name: str, sample: Path, timeout: float) -> bool:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        response = client.post("/api/v1/documents", content=sample.read_bytes(),
                               headers={"Content-Type": "application/json"})
        print(f"\n{name}: POST /api/v1/documents ({sample.name}) → {response.status_code}")
        receipt = response.json()
        for problem in receipt.get("problems", []):
            print(f"  problem: {problem}")
        documents = receipt.get("documents", [])
        statuses = _wait(client, documents, timeout)
    for document in documents:
        status = statuses[document["id"]]
        print(f"\n  {document['type']} {document['reference']}  [{status['status']}]  {document['status_url']}")
        for step in status["trace"]:
            print(f"    {step['at'][11:23]}  {step['step']:<11} {_summary(step['detail'])}")
    delivered = sum(1 for s in statuses.values() if s["status"] == "delivered")
    print(f"\n  {delivered} of {len(documents)} documents delivered with their four steps logged.")
    return bool(documents) and delivered == len(documents)


def _subscription_events(base: str, stores: Any, tenant: str, key: str, name: str, timeout: float) -> bool:
    """The sandbox subscription system renews, is paid by Vipps and cancels, each a signed event to the webhook;
    then sends the renewal again, which changes nothing (docs/sources/subscriptions.md)."""
    import datetime as dt
    from decimal import Decimal

    from api.subscriptions import add_signing_secret
    from sandboxes.subscriptions import Subscriber, SubscriptionSystem

    _, secret = add_signing_secret(stores, tenant)
    system = SubscriptionSystem(f"{base}/api/v1/sources/subscriptions/{tenant}/events", secret)
    today = dt.date.today()
    ok = True
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        åse = Subscriber("Åse Ødegård", "ase@example.no", address={"lines": ["Kjerkgata 12"], "postal_code": "7374",
                                                                     "city": "Røros"})
        renewal = system.renew(åse, plan="Bygdebladet, papir og digitalt", price=Decimal("249.00"), vat_code="33",
                               date=today)
        number = renewal["data"]["invoice_number"]
        for event in (renewal, system.pay(number, date=today, method="vipps"), system.cancel(number, date=today)):
            answer = system.send(event)
            print(f"\n{name}: subscription event {event['type']} {event['id']} → {answer.status_code}")
            documents = answer.json().get("documents", [])
            for document_id, status in _wait(client, documents, timeout).items():
                ok &= status["status"] == "delivered"
                print(f"  {document_id}  [{status['status']}]")
                for step in status["trace"]:
                    print(f"    {step['at'][11:23]}  {step['step']:<11} {_summary(step['detail'])}")
        again = system.resend(renewal)
        print(f"\n{name}: the renewal sent again → {again.status_code} {again.json().get('duplicate') and 'duplicate'}")
        ok &= again.status_code == 200
    system.close()
    return ok


def _wait(client: httpx.Client, documents: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, Any] = {}
    while time.monotonic() < deadline:
        for document in documents:
            statuses[document["id"]] = client.get(f"/api/v1/documents/{document['id']}").json()
        if all(s["status"] in FINAL for s in statuses.values()):
            break
        time.sleep(0.3)
    return statuses


def _summary(detail: dict[str, Any]) -> str:
    keep = ("target", "remote_id", "draft", "not_accepted", "sent", "customer", "credits_invoice_id", "registered", "format", "problems", "error", "note", "original",
            "shared_form", "adapted", "last_error")
    return json.dumps({k: v for k, v in detail.items() if k in keep}, ensure_ascii=False)[:200]
