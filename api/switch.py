"""The admin API for switching a tenant's accounting system: the preview, then the switch (pipeline/switching.py).

Handlers in the shape of api/http.py; function_app.py serves them, the switch with the translated queue as
output for the open period it may resend.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from api.http import Request, Response, admin_body, admin_tenant, error
from pipeline.errors import BilagsbroError
from pipeline.records.apikeys import hash_key, key_id
from pipeline.records.names import QUEUE_TRANSLATED

if TYPE_CHECKING:
    from pipeline.ports import Stores
    from pipeline.registry import Connectors


class SwitchPreview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(..., description="The new accounting system (registry name, e.g. 'poweroffice_go')")
    settings: dict[str, Any] = Field(default_factory=dict, description="The new connection's settings")
    credentials: dict[str, str] = Field(default_factory=dict, description="Its credentials: used for this call "
                                                                          "only, never stored by a preview")


class Switch(SwitchPreview):
    reason: str = Field(..., min_length=3, max_length=1000, description="Why: kept with who asked, for the audit")
    direct_posting: StrictBool | None = None
    resend_from: dt.date | None = Field(None, description="Resend every document dated this day or later (the "
                                                          "open period) to the new system")

    @field_validator("resend_from", mode="before")
    @classmethod
    def _a_date_as_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError("a date as text: YYYY-MM-DD")
        return value


def _who(request: Request) -> str:
    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    return f"admin key {key_id(hash_key(key))}"


def preview_switch(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """What the new system would accept of the tenant's last 90 days, and what it lacks (nothing is written)."""
    from pipeline.switching import preview

    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = admin_body(request, SwitchPreview)
    if bad:
        return bad
    assert isinstance(body, SwitchPreview)
    try:
        found = preview(stores, connectors, tenant.id, body.target, settings=body.settings,
                        credentials=body.credentials)
    except BilagsbroError as exc:
        return error(422, exc.message, list(exc.problems))
    return Response(200 if found["connection"]["ok"] else 422, found | (
        {} if found["connection"]["ok"] else {"error": "the new system's connection test failed: "
                                                       f"{found['connection']['error'].get('message')}"}))


def post_switch(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Switch: the new connection tested and in force, the old one kept read-only, the open period optionally
    resent. 200 switched; 422 when the new connection failed its test (nothing changed)."""
    from pipeline.switching import switch

    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = admin_body(request, Switch)
    if bad:
        return bad
    assert isinstance(body, Switch)
    try:
        done = switch(stores, connectors, tenant.id, body.target, by=_who(request), reason=body.reason,
                      settings=body.settings, credentials=body.credentials, direct_posting=body.direct_posting,
                      resend_from=body.resend_from)
    except BilagsbroError as exc:
        return error(422, exc.message, list(exc.problems))
    messages = (done.get("resend") or {}).pop("envelopes", [])
    if not done["switched"]:
        reason = (done["check"].get("error") or {}).get("message", "the connection test failed")
        return Response(422, {**done, "error": f"connection test failed: {reason}; {tenant.id} goes on with "
                                               f"{done['from']}"})
    return Response(200, done, messages={QUEUE_TRANSLATED: messages} if messages else {})
