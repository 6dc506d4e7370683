"""The HTTP stack every HTTP connector shares: one way to send, retry, log and turn answers into errors.

A connector declares its `Dialect` (what differs: error bodies, rate-limit headers, secret names) and uses:

    client = client_for(context, DIALECT, base_url=settings.base_url, auth=MyAuth(...), timeout=30)
    response = send(client, "POST", "vouchers", dialect=DIALECT, content=body, tenant=context.tenant,
                    reference=voucher.reference, exchanges=context.exchanges, sleep=context.sleep)

- `send` (send.py): bounded retries by remedy, the server's wait honoured, `OutcomeUnknown` after a POST whose
  outcome is unknown.
- `error_from_response` (errors.py): the status table, the one place an answer becomes a Bilagsbro error.
- `RecordingTransport` (exchanges.py): every exchange in the document's log, secrets redacted.
- `Dialect`, `ProviderError`, `json_error`, `waits_from`, `seconds` (dialect.py): the per-system hooks.
- `client_for`, `kept`, `close` (clients.py): one pooled client (and session) per connection.
"""

from connectors.http.clients import client_for, close, kept
from connectors.http.dialect import (
    REQUEST_ID_HEADERS,
    Dialect,
    ProviderError,
    json_error,
    operation,
    retry_after,
    seconds,
    waits_from,
)
from connectors.http.errors import IDEMPOTENT, error_from_response, request_id
from connectors.http.exchanges import (
    EXCHANGE_LOG,
    REDACTED,
    RecordingTransport,
    redact_body,
    redact_headers,
    redact_url,
)
from connectors.http.send import MAX_SLEEP, MAX_TRIES, Sleep, backoff, send

__all__ = [
    "EXCHANGE_LOG", "IDEMPOTENT", "MAX_SLEEP", "MAX_TRIES", "REDACTED", "REQUEST_ID_HEADERS", "Dialect", "ProviderError",
    "RecordingTransport", "Sleep", "backoff", "client_for", "close", "error_from_response", "json_error", "kept",
    "operation", "redact_body", "redact_headers", "redact_url", "request_id", "retry_after", "seconds", "send",
    "waits_from",
]
