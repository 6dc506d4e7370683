"""connectors/http with Tripletex's dialect: the status table, bounded retries that honour the server's hints,
redaction. (The stack with other systems' dialects: tests/unit/test_http_stack.py.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import pytest

from connectors.http import RecordingTransport, error_from_response, redact_body, send
from connectors.targets.tripletex import DIALECT
from pipeline.errors import ConfigError, DataError, OutcomeUnknown, TransientError
from pipeline.memory import MemoryExchanges

TRIPLETEX_422 = {
    "status": 422, "code": 18000, "message": "Validering feilet.", "link": "https://tripletex.no/v2-docs/",
    "developerMessage": None, "requestId": "body-id",
    "validationMessages": [{"field": "postings[0].customer", "message": "Kunde mangler."}],
}


def answer(status: int, *, method: str = "POST", json: object = None, headers: dict[str, str] | None = None
           ) -> httpx.Response:
    request = httpx.Request(method, "https://tripletex.no/v2/ledger/voucher")
    return httpx.Response(status, json=json, headers=headers, request=request)


@pytest.mark.parametrize(("status", "method", "kind"), [
    (400, "POST", DataError), (422, "POST", DataError), (409, "PUT", DataError),
    (401, "GET", ConfigError), (403, "POST", ConfigError),
    (429, "POST", TransientError), (500, "GET", TransientError), (503, "GET", TransientError),
    (500, "POST", OutcomeUnknown), (502, "POST", OutcomeUnknown),
])
def test_status_table(status: int, method: str, kind: type[Exception]) -> None:
    error = error_from_response(answer(status, method=method, json={"message": "nei"},
                                       headers={"x-tlx-request-id": "hdr-id"}), dialect=DIALECT,
                                tenant="t", reference="R-1")
    assert type(error) is kind
    assert (error.status, error.request_id, error.tenant, error.reference) == (status, "hdr-id", "t", "R-1")
    assert error.provider_message == "nei"


def test_validation_messages_and_request_id_are_kept() -> None:
    error = error_from_response(answer(422, json=TRIPLETEX_422), dialect=DIALECT)
    assert isinstance(error, DataError)
    assert error.provider_message == "Validering feilet.; postings[0].customer: Kunde mangler."
    assert error.request_id == "body-id"


def test_404_is_data_for_a_missing_object_and_config_for_a_missing_route() -> None:
    assert isinstance(error_from_response(answer(404, json={"message": "Bilag finnes ikke"}), connector="x"),
                      DataError)
    assert isinstance(error_from_response(answer(404), connector="x"), ConfigError)


def test_429_carries_the_reset_as_retry_after() -> None:
    error = error_from_response(answer(429, headers={"X-Rate-Limit-Reset": "7"}), dialect=DIALECT)
    assert error.retry_after == 7.0


def scripted(*steps: int | type[Exception], headers: dict[str, str] | None = None
             ) -> tuple[httpx.Client, list[str]]:
    seen: list[str] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        step = queue.pop(0)
        if isinstance(step, type):
            raise step("simulated", request=request)
        return httpx.Response(step, json={"message": f"status {step}"}, headers=headers)
    return httpx.Client(transport=httpx.MockTransport(handler), base_url="https://x.test"), seen


def call(client: httpx.Client, method: str, waits: list[float]) -> httpx.Response:
    return send(client, method, "/thing", dialect=DIALECT, sleep=waits.append)


def test_get_retries_5xx_and_429_honouring_reset_then_succeeds() -> None:
    client, seen = scripted(503, 429, 500, 200, headers={"X-Rate-Limit-Reset": "2"})
    waits: list[float] = []
    assert call(client, "GET", waits).status_code == 200
    assert seen == ["GET"] * 4 and waits == [2.0, 2.0, 2.0]


def test_retries_are_bounded_and_sleeps_capped() -> None:
    client, seen = scripted(503, 503, 503, 503, 503, headers={"Retry-After": "3600"})
    waits: list[float] = []
    with pytest.raises(TransientError) as caught:
        call(client, "GET", waits)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert len(seen) == 4 and waits == [30.0, 30.0, 30.0]


def test_post_retries_429_only() -> None:
    client, seen = scripted(429, 201)
    waits: list[float] = []
    assert call(client, "POST", waits).status_code == 201 and len(seen) == 2
    client, seen = scripted(500, 201)
    with pytest.raises(OutcomeUnknown):
        call(client, "POST", waits)
    assert len(seen) == 1


@pytest.mark.parametrize(("failure", "method", "kind", "tries"), [
    (httpx.ReadTimeout, "POST", OutcomeUnknown, 1),
    (httpx.ConnectError, "POST", TransientError, 4),
    (httpx.ConnectTimeout, "POST", TransientError, 4),
    (httpx.ReadTimeout, "GET", TransientError, 4),
    (httpx.RemoteProtocolError, "POST", OutcomeUnknown, 1),
])
def test_transport_failures(failure: type[Exception], method: str, kind: type[Exception], tries: int) -> None:
    client, seen = scripted(*([failure] * 4))
    with pytest.raises(kind) as caught:
        call(client, method, [])
    assert len(seen) == tries
    assert caught.value.__cause__ is None  # no httpx exception (with its URL) rides along


def recorded(make: Callable[[httpx.Request], httpx.Response], request: httpx.Request) -> MemoryExchanges:
    log = MemoryExchanges()
    transport = RecordingTransport(log, httpx.MockTransport(make), secret_params={"employeeToken"},
                                   secret_fields={"token"})
    with httpx.Client(transport=transport) as client:
        try:
            client.send(request)
        except httpx.HTTPError:
            pass
    return log


def test_recording_redacts_and_keeps_failures() -> None:
    request = httpx.Request("PUT", "https://x.test/s?employeeToken=hemmelig&expirationDate=2030-01-01",
                            headers={"Authorization": "Basic aGVtbWVsaWc="})
    log = recorded(lambda r: httpx.Response(200, json={"value": {"token": "hemmelig", "navn": "Åse"}}), request)
    [exchange] = log.exchanges
    assert "hemmelig" not in repr(exchange) and "aGVtbWVsaWc" not in repr(exchange)
    assert "expirationDate=2030-01-01" in exchange.url and exchange.status == 200
    assert "Åse".encode() in exchange.response_body and exchange.at <= dt.datetime.now(dt.UTC)

    def fail(r: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=r)
    [failed] = recorded(fail, httpx.Request("POST", "https://x.test/v", content=b"{}")).exchanges
    assert failed.status is None and failed.error == "ReadTimeout" and failed.request_body == b"{}"


def test_redact_body_leaves_other_bodies_alone() -> None:
    assert redact_body(b"not json token", {"token"}) == b"not json token"
    assert redact_body(b'{"a": [{"token": "x"}]}', {"token"}) == b'{"a": [{"token": "[redacted]"}]}'
