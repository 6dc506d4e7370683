"""The composition root: the Azure Functions that start and chain Bilagsbro's pipeline.

HTTP (vendors, subscription systems), blob (SFTP drops) and timer (pulled sources) triggers receive
documents; one queue-triggered function per stage moves each document received → translated → adapted →
delivered. The HTTP handlers live in `api/` (plain functions: request in, response and queue messages out), the
bookkeepers' pages in `workspace/`; each route below names its handler. Functions only decode their trigger, call
that code and map the outcome; stores and connectors are built once per process, lazily, to keep cold start light.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from pipeline import redaction
from pipeline.records import names

redaction.install()  # before anything logs: no token, secret or API key in any log line, at any level
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)  # API keys are checked by api/, sessions by workspace/
log = logging.getLogger("bilagsbro")
CONNECTION = names.STORAGE_CONNECTION
Handler = Callable[[Any, Any, Any], Any]  # (stores, connectors, api.http.Request) -> api.http.Response


@functools.cache
def _stores() -> Any:
    """The storage and secret ports for this process (the Functions host reuses it across invocations)."""
    from connectors.storage.azure import stores

    return stores()


@functools.cache
def _connectors() -> Any:
    """The connector registry for this process: built when a function first needs a connector."""
    import connectors

    return connectors.registry()


class _Registry:
    """What the HTTP handlers get as the registry: built on first use, so a request that needs no connector
    (a document's status, a receipt) never imports them."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_connectors(), name)


def _redacted_spans() -> None:
    """Azure Monitor's httpx spans carry full URLs, tokens in query strings included: redact their attributes.
    Called per invocation (a no-op once done) since the worker may configure telemetry after this module loads."""
    from pipeline.telemetry import redact_spans

    redact_spans()


def _request(req: func.HttpRequest) -> Any:
    """The host's request as the HTTP handlers take it (`api.http.Request`)."""
    from api import http as api_http
    _redacted_spans()
    parts = urlsplit(req.url)
    return api_http.Request(
        method=req.method,
        path_params=dict(req.route_params),
        query=dict(req.params),
        headers={k.lower(): v for k, v in req.headers.items()},
        body=req.get_body(),
        base_url=f"{parts.scheme}://{parts.netloc}" if parts.netloc else "",
    )


def _answer(response: Any, outputs: dict[str, func.Out[list[str]]]) -> func.HttpResponse:
    """A handler's `api.http.Response` as the host's: its queue messages through the output bindings."""
    for queue, messages in response.messages.items():
        if messages:
            outputs[queue].set(messages)
    return func.HttpResponse(response.encoded(), status_code=response.status, headers=response.headers,
                             mimetype=response.content_type.split(";")[0], charset="utf-8")


def _http(handler: Handler, req: func.HttpRequest, outputs: dict[str, func.Out[list[str]]]) -> func.HttpResponse:
    """One HTTP function: the host's request to the handler's, its answer back (each route imports its handler
    when first called, so a cold start loads only what that route needs)."""
    return _answer(handler(_stores(), _Registry(), _request(req)), outputs)


# Received: the vendor API ---------------------------------------------------------------------------


@app.route(route="v1/documents", methods=["POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def receive_documents(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    """Shared-form documents: received and translated at once (nothing to translate), on to adapt."""
    from api.vendor import post_documents

    return _http(post_documents, req, {names.QUEUE_TRANSLATED: translated})


@app.route(route="v1/files", methods=["POST"])
@app.queue_output(arg_name="received", queue_name=names.QUEUE_RECEIVED, connection=CONNECTION)
def receive_file(req: func.HttpRequest, received: func.Out[list[str]]) -> func.HttpResponse:
    from api.vendor import post_file

    return _http(post_file, req, {names.QUEUE_RECEIVED: received})


@app.route(route="v1/sources/subscriptions/{id}/events", methods=["POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def receive_subscription_event(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    """A subscription system's signed event: renewal, payment or cancellation, translated at once, on to adapt."""
    from api.subscriptions import post_subscription_event

    return _http(post_subscription_event, req, {names.QUEUE_TRANSLATED: translated})


@app.route(route="v1/documents", methods=["GET"])
def document_list(req: func.HttpRequest) -> func.HttpResponse:
    from api.history import list_documents

    return _http(list_documents, req, {})


@app.route(route="v1/documents/{id}", methods=["GET"])
def document_status(req: func.HttpRequest) -> func.HttpResponse:
    from api.vendor import get_document

    return _http(get_document, req, {})


@app.route(route="v1/documents/{id}/original", methods=["GET"])
def document_original(req: func.HttpRequest) -> func.HttpResponse:
    from api.history import get_original

    return _http(get_original, req, {})


@app.route(route="v1/documents/{id}/shared-form", methods=["GET"])
def document_shared_form(req: func.HttpRequest) -> func.HttpResponse:
    from api.history import get_shared_form

    return _http(get_shared_form, req, {})


@app.route(route="v1/documents/{id}/payload", methods=["GET"])
def document_payload(req: func.HttpRequest) -> func.HttpResponse:
    from api.history import get_payload

    return _http(get_payload, req, {})


@app.route(route="v1/documents/{id}/exchanges", methods=["GET"])
def document_exchanges(req: func.HttpRequest) -> func.HttpResponse:
    from api.history import get_exchanges

    return _http(get_exchanges, req, {})


@app.route(route="v1/documents/{id}/remote", methods=["GET"])
def document_remote(req: func.HttpRequest) -> func.HttpResponse:
    """Whether an accounting system of the tenant holds the document (read-only connections included)."""
    from api.history import get_remote

    return _http(get_remote, req, {})


@app.route(route="v1/documents/{id}/retry", methods=["POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def document_retry(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    from api.vendor import retry_document

    return _http(retry_document, req, {names.QUEUE_TRANSLATED: translated})


@app.route(route="v1/documents/{id}/resend", methods=["POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def document_resend(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    """Send a document again, to its system or another the tenant is connected to: explicit, audited, never twice."""
    from api.resend import resend_document

    return _http(resend_document, req, {names.QUEUE_TRANSLATED: translated})


@app.route(route="v1/resends", methods=["POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def documents_resend(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    """A filtered set sent again; a dry run (the default) first shows what would go and what would be refused."""
    from api.resend import resend_documents

    return _http(resend_documents, req, {names.QUEUE_TRANSLATED: translated})


@app.route(route="v1/problems", methods=["GET"])
def problem_list(req: func.HttpRequest) -> func.HttpResponse:
    """The tenant's blocked and failed documents grouped by cause, each cause with its fix."""
    from api.problems import list_problems

    return _http(list_problems, req, {})


@app.route(route="v1/problems/{cause}", methods=["GET"])
def problem_documents(req: func.HttpRequest) -> func.HttpResponse:
    from api.problems import get_problem

    return _http(get_problem, req, {})


@app.route(route="v1/problems/{cause}/retry", methods=["POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def problem_retry(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    """Every document of a cause retried at once; those whose cause is still there are reported, not sent."""
    from api.problems import retry_problem

    return _http(retry_problem, req, {names.QUEUE_TRANSLATED: translated})


@app.route(route="v1/dry-run", methods=["POST"])
def dry_run(req: func.HttpRequest) -> func.HttpResponse:
    """A file through everything but delivery: documents, totals, problems and payloads; nothing is kept."""
    from api.dry_run import post_dry_run

    return _http(post_dry_run, req, {})


@app.route(route="v1/receipts", methods=["GET"])
def receipt_list(req: func.HttpRequest) -> func.HttpResponse:
    from api.vendor import list_receipts

    return _http(list_receipts, req, {})


@app.route(route="v1/receipts/{id}", methods=["GET"])
def receipt_status(req: func.HttpRequest) -> func.HttpResponse:
    from api.vendor import get_receipt

    return _http(get_receipt, req, {})


@app.route(route="v1/receipts/{id}/report", methods=["GET"])
def receipt_report(req: func.HttpRequest) -> func.HttpResponse:
    from api.vendor import get_receipt_report

    return _http(get_receipt_report, req, {})


@app.route(route="v1/receipts/{id}/report.csv", methods=["GET"])
def receipt_report_csv(req: func.HttpRequest) -> func.HttpResponse:
    from api.vendor import get_receipt_report_csv

    return _http(get_receipt_report_csv, req, {})


@app.route(route="v1/export", methods=["GET"])
def export(req: func.HttpRequest) -> func.HttpResponse:
    from api.vendor import get_export

    return _http(get_export, req, {})


# The general ledger read back from the company's accounting system (pipeline/readback) -------------------


@app.route(route="v1/ledger/accounts", methods=["GET"])
def ledger_accounts(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_accounts

    return _http(ledger_accounts, req, {})


@app.route(route="v1/ledger/transactions", methods=["GET"])
def ledger_transactions(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_transactions

    return _http(ledger_transactions, req, {})


@app.route(route="v1/ledger/balances", methods=["GET"])
def ledger_balances(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_balances

    return _http(ledger_balances, req, {})


@app.route(route="v1/ledger/documents/{id}", methods=["GET"])
def ledger_document(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_document

    return _http(ledger_document, req, {})


@app.route(route="v1/ledger/inbox", methods=["GET"])
def ledger_inbox(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_inbox

    return _http(ledger_inbox, req, {})


@app.route(route="v1/ledger/source", methods=["GET"])
def ledger_source(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_source

    return _http(ledger_source, req, {})


@app.route(route="v1/ledger/source", methods=["PUT"])
def ledger_source_choose(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import put_ledger_source

    return _http(put_ledger_source, req, {})


@app.route(route="v1/ledger/files", methods=["POST"])
@app.queue_output(arg_name="ledger", queue_name=names.QUEUE_LEDGER, connection=CONNECTION)
def ledger_file(req: func.HttpRequest, ledger: func.Out[list[str]]) -> func.HttpResponse:
    """A SIE 4 or SAF-T Financial file: stored unchanged, chosen as the ledger source, read in the background."""
    from api.ledger import post_ledger_file

    return _http(post_ledger_file, req, {names.QUEUE_LEDGER: ledger})


@app.route(route="v1/ledger/sync", methods=["POST"])
@app.queue_output(arg_name="ledger", queue_name=names.QUEUE_LEDGER, connection=CONNECTION)
def ledger_sync_start(req: func.HttpRequest, ledger: func.Out[list[str]]) -> func.HttpResponse:
    from api.ledger import post_ledger_sync

    return _http(post_ledger_sync, req, {names.QUEUE_LEDGER: ledger})


@app.route(route="v1/ledger/sync", methods=["GET"])
def ledger_sync_progress(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_sync

    return _http(ledger_sync, req, {})


@app.route(route="v1/ledger/export", methods=["GET"])
def ledger_export(req: func.HttpRequest) -> func.HttpResponse:
    from api.ledger import ledger_export

    return _http(ledger_export, req, {})


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_LEDGER, connection=CONNECTION)
@app.queue_output(arg_name="out", queue_name=names.QUEUE_LEDGER, connection=CONNECTION)
def ledger_slice(msg: func.QueueMessage, out: func.Out[list[str]]) -> None:
    """One slice of a backfill (a period, or a file's fiscal year); chains the next slice's message."""
    from pipeline.readback.sync import step
    from pipeline.webhook_events import emit

    _redacted_spans()
    registry = _connectors()
    following = step(_stores(), registry.ledger_opener(_stores(), registry), msg.get_body(), emit=emit)
    if following:
        out.set([following])


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_LEDGER + names.POISON_SUFFIX, connection=CONNECTION)
def ledger_slice_poison(msg: func.QueueMessage) -> None:
    """A slice that failed maxDequeueCount times (the system kept failing): the run is marked failed, saying so."""
    from pipeline.readback.sync import failed

    failed(_stores(), msg.get_body(), f"a slice failed {msg.dequeue_count} times; see the logs, then start again")


@app.timer_trigger(arg_name="timer", schedule="%LEDGER_SYNC_SCHEDULE%", run_on_startup=False, use_monitor=True)
def ledger_refresh(timer: func.TimerRequest) -> None:
    """Every company with a ledger source: the periods that changed since the watermark, read again."""
    from pipeline.readback.sync import refresh_all
    from pipeline.webhook_events import emit

    _redacted_spans()
    registry = _connectors()
    for report in refresh_all(_stores(), registry.ledger_opener(_stores(), registry), emit=emit):
        log.info("ledger of %s/%s: %d period(s) read again, %d posting(s), %d mismatch(es)%s", report.tenant,
                 report.company, len(report.periods_read), report.postings, len(report.mismatches),
                 f", skipped: {report.skipped}" if report.skipped else "")


@app.route(route="v1/admin/tenants", methods=["POST"])
def tenant_create(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import create_tenant

    return _http(create_tenant, req, {})


@app.route(route="v1/admin/tenants/{id}/connection", methods=["PUT"])
def tenant_connection(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import put_connection

    return _http(put_connection, req, {})


@app.route(route="v1/admin/tenants/{id}/connection/companies", methods=["POST"])
def tenant_connection_companies(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import post_connection_companies

    return _http(post_connection_companies, req, {})


@app.route(route="v1/admin/tenants/{id}/connection", methods=["GET"])
def tenant_connection_status(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import get_connection

    return _http(get_connection, req, {})


@app.route(route="v1/admin/tenants/{id}/connections", methods=["PUT"])
def tenant_further_connection(req: func.HttpRequest) -> func.HttpResponse:
    """A further accounting system beside the primary one (tested first): resends may go there."""
    from api.admin import put_further_connection

    return _http(put_further_connection, req, {})


@app.route(route="v1/admin/tenants/{id}/connections/{system}", methods=["DELETE"])
def tenant_further_connection_removed(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import delete_further_connection

    return _http(delete_further_connection, req, {})


@app.route(route="v1/admin/tenants/{id}/switch/preview", methods=["POST"])
def tenant_switch_preview(req: func.HttpRequest) -> func.HttpResponse:
    """What a new accounting system would make of the tenant's last 90 days (nothing written)."""
    from api.switch import preview_switch

    return _http(preview_switch, req, {})


@app.route(route="v1/admin/tenants/{id}/switch", methods=["POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def tenant_switch(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    """Switch accounting system: the old connection kept read-only, the open period optionally resent."""
    from api.switch import post_switch

    return _http(post_switch, req, {names.QUEUE_TRANSLATED: translated})


@app.route(route="v1/admin/tenants/{id}/keys", methods=["GET"])
def tenant_keys(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import list_api_keys

    return _http(list_api_keys, req, {})


@app.route(route="v1/admin/tenants/{id}/keys", methods=["POST"])
def tenant_key_issue(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import issue_api_key

    return _http(issue_api_key, req, {})


@app.route(route="v1/admin/tenants/{id}/keys/{key_id}/revoke", methods=["POST"])
def tenant_key_revoke(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import revoke_api_key

    return _http(revoke_api_key, req, {})


@app.route(route="v1/admin/tenants/{id}/keys/{key_id}/rotate", methods=["POST"])
def tenant_key_rotate(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import rotate_api_key

    return _http(rotate_api_key, req, {})


@app.route(route="v1/admin/tenants/{id}/rules", methods=["PUT"])
def tenant_rules(req: func.HttpRequest) -> func.HttpResponse:
    """A new version of the tenant's rules (If-Match: the version it was based on, else 409)."""
    from api.rules import put_rules

    return _http(put_rules, req, {})


@app.route(route="v1/admin/tenants/{id}/rules", methods=["GET"])
def tenant_rules_current(req: func.HttpRequest) -> func.HttpResponse:
    from api.rules import get_rules

    return _http(get_rules, req, {})


@app.route(route="v1/admin/tenants/{id}/rules/versions", methods=["GET"])
def tenant_rule_versions(req: func.HttpRequest) -> func.HttpResponse:
    from api.rules import list_rule_versions

    return _http(list_rule_versions, req, {})


@app.route(route="v1/admin/tenants/{id}/rules/versions/{version}", methods=["GET"])
def tenant_rule_version(req: func.HttpRequest) -> func.HttpResponse:
    from api.rules import get_rule_version

    return _http(get_rule_version, req, {})


@app.route(route="v1/admin/tenants/{id}/rules/versions/{version}/diff", methods=["GET"])
def tenant_rule_diff(req: func.HttpRequest) -> func.HttpResponse:
    from api.rules import diff_rule_versions

    return _http(diff_rule_versions, req, {})


@app.route(route="v1/admin/tenants/{id}/rules/preview", methods=["POST"])
def tenant_rules_preview(req: func.HttpRequest) -> func.HttpResponse:
    """What new rules would do to recent and blocked documents (nothing is written)."""
    from api.rules import preview_rules

    return _http(preview_rules, req, {})


@app.route(route="v1/admin/tenants/{id}/rules/versions/{version}/rollback", methods=["POST"])
def tenant_rules_rollback(req: func.HttpRequest) -> func.HttpResponse:
    """Back to an earlier version, as a new version."""
    from api.rules import rollback_rules

    return _http(rollback_rules, req, {})


@app.route(route="v1/admin/tenants/{id}/formats/{format}", methods=["PUT"])
def tenant_format(req: func.HttpRequest) -> func.HttpResponse:
    from api.admin import put_format_options

    return _http(put_format_options, req, {})


# Webhooks: endpoints a tenant registers; events sent through the webhooks queue ---------------------------


@app.route(route="v1/webhooks", methods=["POST"])
def webhook_create(req: func.HttpRequest) -> func.HttpResponse:
    from api.webhooks import create_webhook

    return _http(create_webhook, req, {})


@app.route(route="v1/webhooks", methods=["GET"])
def webhook_list(req: func.HttpRequest) -> func.HttpResponse:
    from api.webhooks import list_webhooks

    return _http(list_webhooks, req, {})


@app.route(route="v1/webhooks/{id}", methods=["DELETE"])
def webhook_delete(req: func.HttpRequest) -> func.HttpResponse:
    from api.webhooks import delete_webhook

    return _http(delete_webhook, req, {})


@app.route(route="v1/webhooks/{id}/rotate", methods=["POST"])
def webhook_rotate(req: func.HttpRequest) -> func.HttpResponse:
    from api.webhooks import rotate_webhook_secret

    return _http(rotate_webhook_secret, req, {})


@app.route(route="v1/webhooks/{id}/deliveries", methods=["GET"])
def webhook_deliveries(req: func.HttpRequest) -> func.HttpResponse:
    from api.webhooks import list_webhook_deliveries

    return _http(list_webhook_deliveries, req, {})


@app.route(route="v1/admin/tenants/{id}/webhooks", methods=["POST"])
def tenant_webhook_create(req: func.HttpRequest) -> func.HttpResponse:
    from api.webhooks import admin_create_webhook

    return _http(admin_create_webhook, req, {})


@app.route(route="v1/admin/tenants/{id}/webhooks", methods=["GET"])
def tenant_webhook_list(req: func.HttpRequest) -> func.HttpResponse:
    from api.webhooks import admin_list_webhooks

    return _http(admin_list_webhooks, req, {})


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_WEBHOOKS, connection=CONNECTION)
def send_webhook(msg: func.QueueMessage) -> None:
    """One attempt of one webhook delivery; a failed one queues its own retry (backoff, 24 hours)."""
    import os

    from connectors.http.webhook_post import post
    from pipeline import webhooks
    from pipeline.webhook_events import attempt

    stores = _stores()
    attempt(stores, msg.get_body(), post, allow_private=webhooks.private_targets_allowed(os.environ),
            backoff=webhooks.backoff_from(os.environ))


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_WEBHOOKS + names.POISON_SUFFIX, connection=CONNECTION)
def webhook_poison(msg: func.QueueMessage) -> None:
    """An attempt that crashed (storage, not the receiver) maxDequeueCount times: the row keeps its state."""
    log.error("a webhook delivery message was poisoned: %r", msg.get_body()[:200])




@app.route(route="v1/admin/tenants/{id}/onboarding/fortnox", methods=["POST"])
def fortnox_onboarding_link(req: func.HttpRequest) -> func.HttpResponse:
    """Fortnox's hosted consent (connectors/targets/fortnox/consent.py): its handlers take a request like the API's."""
    from connectors.targets.fortnox.consent import make_link

    return _http(make_link, req, {})


@app.route(route="onboarding/fortnox/callback", methods=["GET"])
def fortnox_onboarding_callback(req: func.HttpRequest) -> func.HttpResponse:
    from connectors.targets.fortnox.consent import callback

    return _http(callback, req, {})


@app.route(route="onboarding/fortnox/links/{link}", methods=["GET"])
def fortnox_onboarding_page(req: func.HttpRequest) -> func.HttpResponse:
    from connectors.targets.fortnox.consent import show

    return _http(show, req, {})


@app.route(route="onboarding/fortnox/links/{link}", methods=["POST"])
def fortnox_onboarding_start(req: func.HttpRequest) -> func.HttpResponse:
    from connectors.targets.fortnox.consent import start

    return _http(start, req, {})


@app.route(route="docs", methods=["GET"])
def api_docs(req: func.HttpRequest) -> func.HttpResponse:
    from api.docs import docs_html

    return _http(docs_html, req, {})


@app.route(route="docs/field-map", methods=["GET"])
def api_field_map(req: func.HttpRequest) -> func.HttpResponse:
    from api.docs import docs_field_map

    return _http(docs_field_map, req, {})


@app.route(route="openapi.json", methods=["GET"])
def api_openapi(req: func.HttpRequest) -> func.HttpResponse:
    from api.docs import docs_json

    return _http(docs_json, req, {})


# The bookkeepers' workspace: server-rendered pages under /api/app/ (workspace/router.py decides who may see what)


@app.route(route="app/{*path}", methods=["GET", "POST"])
@app.queue_output(arg_name="translated", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def workspace(req: func.HttpRequest, translated: func.Out[list[str]]) -> func.HttpResponse:
    """Sign-in, clients, history, audit, users: resend and retry send to the translated queue as the API does."""
    from workspace.router import handle

    return _http(handle, req, {names.QUEUE_TRANSLATED: translated})


# Received: SFTP drops ------------------------------------------------------------------------------


@app.blob_trigger(arg_name="drop", path=names.CONTAINER_SFTP + "/{name}", connection=names.SFTP_CONNECTION,
                  source=func.BlobSource.EVENT_GRID)
@app.queue_output(arg_name="received", queue_name=names.QUEUE_RECEIVED, connection=CONNECTION)
def receive_drop(drop: func.InputStream, received: func.Out[list[str]]) -> None:
    """A completed upload (Event Grid: SftpCommit, PutBlob, PutBlockList) in a tenant's inbound folder."""
    from pipeline.received import receive_drop as receive

    name = (drop.name or "").removeprefix(names.CONTAINER_SFTP + "/")
    intake = receive(_stores(), name, drop.read(), known_formats=_connectors().sources)
    if intake is None:
        log.warning("ignored %s: not in a tenant's inbound folder", name)
    elif intake.envelopes:
        received.set([e.to_json() for e in intake.envelopes])


# Received: scheduled pulls (Omnium OMS) -------------------------------------------------------------


@app.timer_trigger(arg_name="timer", schedule="%OMNIUM_PULL_SCHEDULE%", run_on_startup=False, use_monitor=True)
def pull_orders(timer: func.TimerRequest) -> None:
    """Every tenant with a pulled source: take what changed since the last run (timers run in UTC)."""
    import datetime as dt

    import connectors
    from pipeline.pulls.scheduled import pull_all

    _redacted_spans()
    for report in pull_all(_stores(), connectors.pulled(), now=dt.datetime.now(dt.UTC)):
        log.info("pulled %s for %s: %d document(s), %d problem(s)%s", report.source, report.tenant,
                 len(report.documents), len(report.problems), f", error {report.error}" if report.error else "")


# Nothing lost, nothing stuck: documents whose progress stalled are queued again ----------------------


@app.timer_trigger(arg_name="timer", schedule="%SWEEP_SCHEDULE%", run_on_startup=False, use_monitor=False)
def sweep(timer: func.TimerRequest) -> None:
    """A crash between a step and its queue message, or a host that died mid-stage: send it again.

    docs/decisions/0003-nothing-lost-nothing-stuck.md; SWEEP_STALL_SECONDS overrides the stall (45 s).
    """
    import datetime as dt
    import os

    from pipeline.inflight import STALL
    from pipeline.sweeper import sweep as sweep_once

    stall = os.environ.get("SWEEP_STALL_SECONDS")
    report = sweep_once(_stores(), stall=dt.timedelta(seconds=float(stall)) if stall else STALL)
    if report.requeued or report.poisoned:
        log.warning("sweep: %d sent again, %d poisoned, %d still moving, %d cleared", len(report.requeued),
                    len(report.poisoned), report.deferred, report.cleared)


# The workspace's clients: every connected client's connection test, again each day (workspace/health.py) -----


@app.timer_trigger(arg_name="timer", schedule="%CONNECTION_TEST_SCHEDULE%", run_on_startup=False, use_monitor=True)
def retest_connections(timer: func.TimerRequest) -> None:
    """The connection test of every connected client, stored for the health light; green turning red raises the
    webhook event connection.unhealthy."""
    from pipeline.webhook_events import emit
    from workspace.health import retest_all

    _redacted_spans()
    tested = retest_all(_stores(), _connectors(), emit=emit)
    log.info("connection re-test: %d client(s), %d red, %d turned red", len(tested),
             sum(1 for t in tested if not t.ok), sum(1 for t in tested if t.turned_red))


# History is kept 90 days, then deleted everywhere ------------------------------------------------------


@app.timer_trigger(arg_name="timer", schedule="0 30 2 * * *", run_on_startup=False, use_monitor=False)
def retention(timer: func.TimerRequest) -> None:
    """Each night, history received more than 90 days ago: its index rows and trace partitions (Table Storage
    has no lifecycle rule); on the local stack the blobs too, as Azure's lifecycle rule deletes them there. And
    the workspace's expired sessions, reset links and login-throttle rows (workspace/sweep.py)."""
    import os

    from pipeline.retention import sweep as sweep_history

    swept = sweep_history(_stores(), blobs=os.environ.get("HISTORY_BLOB_SWEEP", "").lower() == "true")
    log.info("retention: %d document(s), %d receipt(s), %d trace row(s), blobs %s, %d Idempotency-Key claim(s), "
             "%d webhook deliveries deleted", swept.documents, swept.receipts, swept.trace_rows,
             swept.blobs or "left to the lifecycle rule", swept.idempotency_keys, swept.webhook_deliveries)
    from workspace.sweep import sweep_sign_ins

    signs = sweep_sign_ins(_stores().tables)
    log.info("retention: %d expired session(s), %d reset link(s), %d throttle row(s) deleted", signs.sessions,
             signs.resets, signs.throttles)


# The stages ---------------------------------------------------------------------------------------


def _stage(stage: str, msg: func.QueueMessage, out: func.Out[list[str]] | None) -> None:
    from pipeline.stages import run

    _redacted_spans()
    messages = run(stage, _stores(), _connectors(), msg.get_body(), dequeue_count=msg.dequeue_count)
    if out is not None and messages:
        out.set(messages)


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_RECEIVED, connection=CONNECTION)
@app.queue_output(arg_name="out", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
def translate(msg: func.QueueMessage, out: func.Out[list[str]]) -> None:
    _stage("translate", msg, out)


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_TRANSLATED, connection=CONNECTION)
@app.queue_output(arg_name="out", queue_name=names.QUEUE_ADAPTED, connection=CONNECTION)
def adapt(msg: func.QueueMessage, out: func.Out[list[str]]) -> None:
    _stage("adapt", msg, out)


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_ADAPTED, connection=CONNECTION)
def deliver(msg: func.QueueMessage) -> None:
    _stage("deliver", msg, None)


# Poison queues: a message that failed maxDequeueCount times; its document's trace says why.


def _poisoned(queue: str, msg: func.QueueMessage) -> None:
    from pipeline.failed import poisoned

    poisoned(_stores(), queue, msg.get_body(), dequeue_count=msg.dequeue_count)


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_RECEIVED + names.POISON_SUFFIX, connection=CONNECTION)
def received_poison(msg: func.QueueMessage) -> None:
    _poisoned(names.QUEUE_RECEIVED, msg)


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_TRANSLATED + names.POISON_SUFFIX, connection=CONNECTION)
def translated_poison(msg: func.QueueMessage) -> None:
    _poisoned(names.QUEUE_TRANSLATED, msg)


@app.queue_trigger(arg_name="msg", queue_name=names.QUEUE_ADAPTED + names.POISON_SUFFIX, connection=CONNECTION)
def adapted_poison(msg: func.QueueMessage) -> None:
    _poisoned(names.QUEUE_ADAPTED, msg)
