"""What the admin API accepts, as models: unknown fields are refused, as they are in the shared form.

The OpenAPI document is generated from these same models (and, for a connection, from the target's descriptor:
pipeline/records/connection_schemas.py), so a field the server refuses is never advertised (and one it accepts is never
missing).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from pipeline.model import Text

_STRICT = ConfigDict(frozen=True, extra="forbid")


class NewTenant(BaseModel):
    """POST /api/v1/admin/tenants."""

    model_config = _STRICT

    name: Text = Field(..., max_length=200, description="The company's name; æ, ø and å are kept")
    organization_number: StrictStr | None = Field(None, description="Nine digits (spaces allowed)")


class Connection(BaseModel):
    """PUT /api/v1/admin/tenants/{id}/connection: the tenant's accounting system."""

    model_config = _STRICT

    target: StrictStr = Field(..., description="An accounting system in the target registry, e.g. tripletex")
    # Checked against the target's own settings model (its descriptor), strictly, each refused field named.
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Non-secret settings, e.g. base_url and company_id; null removes one; "
                                          "those not given stay as they are")
    credentials: dict[str, StrictStr] = Field(
        default_factory=dict, description="Secrets (tokens, keys): kept in the secret store, never shown again; "
                                          "in force only once the connection test passes with them")
    direct_posting: StrictBool | None = Field(
        None, description="Post directly instead of as drafts (opt-in); omitted: as the connection in force has it")
