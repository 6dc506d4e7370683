"""No token, client secret or API key in a log line, a span, an exchange or a trace row, at any level."""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets

import httpx
import pytest

from pipeline import redaction


def _token(prefix: str) -> str:
    return f"{prefix}-{secrets.token_urlsafe(18)}"


@pytest.fixture
def log_text():
    """Everything every logger writes, at DEBUG, through a handler on the root logger as a host would add."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream.getvalue
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def tripletex():
    from sandboxes.tripletex import TripletexSandbox

    with TripletexSandbox(consumer_token=_token("consumer"), employee_token=_token("employee")) as box:
        yield box


def _tripletex_target(box, exchanges=None):
    from connectors.targets.tripletex import connect
    from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets
    from pipeline.ports import TargetContext

    store = MemorySecrets({"c": box.consumer_token, "e": box.employee_token})
    return connect(TargetContext(tenant="t", settings={"base_url": box.base_url, "secrets": {
        "consumer_token": "c", "employee_token": "e"}}, secrets=store, blobs=MemoryBlobs(),
        exchanges=exchanges or MemoryExchanges()))


def _leaks(text: str, box) -> list[str]:
    tokens = [box.consumer_token, box.employee_token, *box.issued]
    tokens += [base64.b64encode(f"0:{t}".encode()).decode() for t in box.issued]
    return [t for t in tokens if t in text]


def test_the_function_app_and_the_cli_install_the_redaction_before_anything_logs():
    from bilagsbro import cli
    from bilagsbro.stack import load_function_app

    original = logging.getLogRecordFactory()
    try:
        logging.setLogRecordFactory(logging.LogRecord)
        load_function_app()
        assert redaction.installed()
        logging.setLogRecordFactory(logging.LogRecord)
        assert cli.main(["dry-run", "/no/such/file"]) == 2
        assert redaction.installed()
    finally:
        logging.setLogRecordFactory(original)


def test_tripletex_tokens_and_sessions_never_reach_the_log_at_debug(log_text, tripletex):
    """httpx logs each URL at INFO; the session request carries both tokens in its query string."""
    redaction.install()
    target = _tripletex_target(tripletex)
    assert target.check()["company_id"]
    tripletex.expire_sessions()  # the next call renews the session on its 401: a second session request
    assert target.check()["company_id"]
    text = log_text()
    assert "token/session/:create?consumerToken=[redacted]&employeeToken=[redacted]" in text  # it was logged
    assert len(tripletex.issued) == 2
    assert _leaks(text, tripletex) == []


def test_a_refused_session_request_logs_no_token_either(log_text, tripletex):
    from pipeline.errors import ConfigError

    redaction.install()
    target = _tripletex_target(tripletex)
    ours = tripletex.employee_token
    tripletex.employee_token = _token("changed")  # Tripletex no longer takes ours
    with pytest.raises(ConfigError):
        target.check()
    assert "403 Forbidden" in log_text()
    assert ours not in log_text() and _leaks(log_text(), tripletex) == []


@pytest.mark.parametrize("line", [
    "PUT /v2/token/session/:create?consumerToken={s}&employeeToken={s}&expirationDate=2026-12-01",
    'POST https://api.omnium.no/api/Token?clientId=x&clientSecret={s}&returnAsJson=true "HTTP/1.1 200 OK"',
    '{{"value": {{"token": "{s}", "encryptionKey": "{s}"}}}}',
    '{{"accessToken": "{s}", "tokenType": "Bearer", "expiresIn": 864000}}',
    "{{'Authorization': 'Basic {s}', 'accept': 'application/json'}}",
    "receive_response_headers.complete return_value=(b'HTTP/1.1', 200, b'OK', [(b'Set-Cookie', b'sid={s}')])",
    "Authorization: Bearer {s}",
    "https://user:{s}@example.no/path",
    "client_secret={s} api_key={s} password: {s}",
])
def test_secrets_are_redacted_by_name_in_every_shape_they_are_logged_in(line):
    secret = secrets.token_urlsafe(20)  # never remembered: only the names net can catch it
    text = redaction.redact(line.format(s=secret))
    assert secret not in text and "[redacted]" in text


def test_our_api_keys_are_redacted_wherever_they_appear():
    key = "bb_" + secrets.token_urlsafe(32)
    assert key[3:] not in redaction.redact(f"who sent {key}? not me")
    webhook_secret = "whsec_" + secrets.token_urlsafe(32)
    assert webhook_secret[6:] not in redaction.redact(f"signed with {webhook_secret}.")


def test_a_remembered_secret_is_redacted_in_any_encoding_and_any_place():
    secret = "hemmelig-nøkkel-" + secrets.token_hex(4)
    redaction.remember(secret)
    encoded = httpx.URL("https://x.no/", params={"q": secret}).query.decode()
    for text in (f"plain {secret} text", f"url {encoded}", json.dumps({"note": secret})):
        assert "[redacted]" in redaction.redact(text)
        assert secret not in redaction.redact(text) and encoded not in redaction.redact(text)


def test_an_exception_holding_a_secret_is_logged_redacted(log_text):
    redaction.install()
    secret = _token("inside")
    redaction.remember(secret)
    try:
        raise RuntimeError(f"GET https://x.no/?q={secret} failed")
    except RuntimeError:
        logging.getLogger("bilagsbro.test").exception("it broke with %s", secret)
    text = log_text()
    assert "RuntimeError" in text and "it broke with [redacted]" in text
    assert secret not in text


def test_spans_carry_no_secret_in_their_url(tripletex):
    """Azure Monitor instruments httpx: each request's span has url.full, query string included."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from pipeline.telemetry import redact_spans

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    assert redact_spans(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        _tripletex_target(tripletex).check()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    spans = exporter.get_finished_spans()
    urls = [str(s.attributes.get("url.full") or s.attributes.get("http.url")) for s in spans]
    assert any("token/session/:create" in u for u in urls)  # the session request was traced
    assert _leaks(json.dumps([dict(s.attributes) for s in spans]), tripletex) == []


def test_exchanges_and_trace_rows_hold_no_secret_the_process_knows(tripletex):
    from pipeline.memory import MemoryExchanges, MemoryTables
    from pipeline.records.trace import TraceEntry, TraceLog

    exchanges = MemoryExchanges()
    _tripletex_target(tripletex, exchanges).check()
    kept = json.dumps([{**vars(x), "at": str(x.at), "request_body": x.request_body.decode(),
                        "response_body": x.response_body.decode()} for x in exchanges.exchanges])
    assert "session/:create" in kept and _leaks(kept, tripletex) == []
    tables = MemoryTables()
    TraceLog(tables).write(TraceEntry("t", "d-1", "failed", {"error": {
        "provider_message": f"bad token {tripletex.employee_token}"}}))
    assert _leaks(json.dumps(list(tables.rows.values())), tripletex) == []
