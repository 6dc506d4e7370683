"""connectors.http for any system: waits in seconds and as HTTP dates, error bodies by a system's hook, and the
exchange log and the log lines redacting every system's secrets — the ones its descriptor names, and any name
that says it holds a secret."""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import logging

import httpx
import pytest

import connectors
from connectors.http import Dialect, RecordingTransport, error_from_response, json_error, seconds, send, waits_from
from connectors.sources.omnium import OmniumClient
from pipeline import redaction
from pipeline.descriptors import Secret, Settings, TargetDescriptor
from pipeline.errors import ConfigError, DataError, TransientError
from pipeline.memory import MemoryExchanges


def _date(after: float) -> str:
    return email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=after), usegmt=True)


def test_a_wait_is_read_as_seconds_or_as_an_http_date() -> None:
    assert seconds("7") == 7.0 and seconds("0") == 0.0 and seconds(None) is None and seconds("soon") is None
    assert 55 < (seconds(_date(60)) or 0) <= 60
    assert seconds(_date(-60)) == 0.0  # a date in the past: go now
    hook = waits_from("Retry-After", "X-Rate-Limit-Reset")
    assert hook(httpx.Response(429, headers={"X-Rate-Limit-Reset": "3"})) == 3.0
    assert hook(httpx.Response(429, headers={"Retry-After": "5", "X-Rate-Limit-Reset": "3"})) == 5.0


def test_a_retry_after_date_is_honoured_by_send() -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": _date(4)}), httpx.Response(200, json={})])
    client = httpx.Client(transport=httpx.MockTransport(lambda r: next(answers)), base_url="https://x.test")
    waits: list[float] = []
    send(client, "GET", "/ting", dialect=Dialect.plain("ny"), sleep=waits.append)
    assert len(waits) == 1 and 2 < waits[0] <= 4


def test_problem_details_and_oauth_errors_keep_the_providers_words() -> None:
    request = httpx.Request("POST", "https://api.example.test/v2/Vouchers")
    problem = httpx.Response(400, request=request, json={
        "type": "https://example.test/validation", "title": "One or more validation errors occurred.",
        "status": 400, "detail": "Bilaget er ikke i balanse", "traceId": "00-abc-01",
        "errors": {"Lines[0].AccountNo": ["Konto 9999 finnes ikke"]}})
    error = error_from_response(problem, dialect=Dialect.plain("ny"))
    assert isinstance(error, DataError) and error.request_id == "00-abc-01"
    assert error.provider_message == ("One or more validation errors occurred.: Bilaget er ikke i balanse; "
                                      "Lines[0].AccountNo: Konto 9999 finnes ikke")
    oauth = json_error(httpx.Response(401, json={"error": "invalid_client", "error_description": "Ukjent klient"}))
    assert oauth.message == "Ukjent klient"


def test_a_systems_hook_may_say_a_status_lies() -> None:
    """Some systems answer 400 to a missing permission: their hook names the remedy."""
    def hook(response: httpx.Response) -> object:
        from connectors.http import ProviderError

        body = response.json()
        return ProviderError(body["message"], remedy=ConfigError if body.get("code") == "NO_ACCESS" else None)

    dialect = Dialect(connector="ny", title="Ny", error_body=hook)  # type: ignore[arg-type]
    request = httpx.Request("POST", "https://api.example.test/v2/Vouchers")
    error = error_from_response(httpx.Response(400, request=request, json={"message": "Mangler rollen "
                                "JournalEntryVoucher_Full", "code": "NO_ACCESS"}), dialect=dialect)
    assert isinstance(error, ConfigError) and "JournalEntryVoucher_Full" in (error.provider_message or "")


class _Settings(Settings):
    base_url: str = "https://api.example.test"


NY = TargetDescriptor(name="ny-system", title="Ny System", settings=_Settings, connect=lambda c: None,  # type: ignore
                      check="GET /whoami", accepts=connectors.CONNECTORS["tripletex"].accepts,  # type: ignore[attr-defined]
                      secrets=(Secret(name="client_key", label="Client key", where="Ny System: Innstillinger"),),
                      secret_names=("Ocp-Apim-Subscription-Key", "appKey"))


def test_the_exchange_log_redacts_every_systems_secrets_by_name_and_by_keyword() -> None:
    dialect = Dialect.of(NY)
    log = MemoryExchanges()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "svar-hemmelig", "appKey": "nøkkel-hemmelig",
                                         "navn": "Blåbærgården"}, headers={"Set-Cookie": "session=kake-hemmelig"})

    transport = RecordingTransport(log, httpx.MockTransport(answer), secret_names=dialect.secret_names)
    with httpx.Client(transport=transport) as client:
        client.post("https://api.example.test/token?client_key=nokkel-hemmelig&clientSecret=klient-hemmelig&side=2",
                    headers={"Ocp-Apim-Subscription-Key": "abonnement-hemmelig", "X-Api-Key": "api-hemmelig",
                             "Authorization": "Basic YmFzaWMtaGVtbWVsaWc="},
                    json={"password": "passord-hemmelig", "nested": [{"refresh_token": "fornyer-hemmelig"}],
                          "appKey": "app-hemmelig", "beskrivelse": "Kontantsalg på Røros"})
    [exchange] = log.exchanges
    text = repr(exchange)
    assert "hemmelig" not in text and "YmFzaWMt" not in text
    assert "side=2" in exchange.url and "Røros".encode() in exchange.request_body
    assert "Blåbærgården".encode() in exchange.response_body


def test_the_log_layer_redacts_the_names_every_descriptor_declares() -> None:
    assert {"clientId", "encryptionKey"} <= {n for names in connectors.SECRET_NAMES.values() for n in names}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("bilagsbro.test-kit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    redaction.install()
    try:
        logger.info("POST /api/Token?clientId=klient-123456&returnAsJson=true {'encryptionKey': 'krypto-123456'}")
    finally:
        logger.removeHandler(handler)
    assert "klient-123456" not in stream.getvalue() and "krypto-123456" not in stream.getvalue()
    assert "returnAsJson=true" in stream.getvalue()


def _omnium(*answers: httpx.Response, waits: list[float]) -> OmniumClient:
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/Token":
            return httpx.Response(200, json={"accessToken": "token-123456789", "expiresIn": 3600})
        return queue.pop(0)
    return OmniumClient("https://omnium.example.test", "id", "secret", transport=httpx.MockTransport(handler),
                        sleep=waits.append)


def test_omnium_runs_on_the_shared_stack() -> None:
    """The same waits, status table and error fields as every other system; Omnium's dialect retries only
    429 and 503 (a 500 is a crash the pull resumes after)."""
    waits: list[float] = []
    client = _omnium(httpx.Response(503, headers={"Retry-After": _date(3)}),
                     httpx.Response(200, json={"result": [], "totalHits": 0}), waits=waits)
    assert client.search({"take": 1})["totalHits"] == 0 and len(waits) == 1 and 1 < waits[0] <= 3
    client = _omnium(httpx.Response(500, json={"title": "Internal", "detail": "krasj"},
                                    headers={"x-request-id": "r-1"}), waits=waits)
    with pytest.raises(TransientError) as crashed:
        client.search({"take": 1})
    assert (crashed.value.status, crashed.value.request_id, crashed.value.connector) == (500, "r-1", "omnium")
    assert crashed.value.provider_message == "Internal: krasj"
    client = _omnium(httpx.Response(400, json={"detail": "take må være ≤ 100"}), waits=waits)
    with pytest.raises(DataError, match="Omnium POST /api/Orders/Search failed with HTTP 400"):
        client.search({"take": 101})


def test_an_address_the_http_client_would_refuse_is_refused_as_a_setting_and_never_a_500() -> None:
    # Schemathesis found a token_url with a control character that passed the settings model and crashed
    # httpx inside the connection test. Every system's URL settings now share one ASCII-only pattern, and
    # the HTTP stack turns an address httpx refuses into the customer's remedy (ConfigError), not a crash.
    from pydantic import ValidationError

    from connectors.targets.fiken.descriptor import FikenSettings

    assert FikenSettings(company_slug="demo", token_url="http://127.0.0.1:4711/oauth/token").token_url
    for bad in ("https://fiken.no\x1e/oauth", "https://fiken.no/o auth", "https://fiken.no/?q=1", "ftp://fiken.no"):
        with pytest.raises(ValidationError):
            FikenSettings(company_slug="demo", token_url=bad)
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with pytest.raises(ConfigError, match="not a valid URL"):
        send(client, "GET", "https://fiken.no\x1e/api", connector="fiken", sleep=lambda s: None)
