"""The clients overview and a client's own page: company facts, the accounting system and its test, the sources.

Read through the same records the API uses (pipeline.records: tenants, documents, apikeys, connections); every
change made here goes through them too, and into the audit log.
"""

from __future__ import annotations

from typing import Any

from api.http import Response
from pipeline.errors import BilagsbroError
from pipeline.ports import NotFound
from pipeline.records import documents
from pipeline.records.apikeys import ApiKeys
from pipeline.records.names import CONTAINER_SFTP
from pipeline.records.tenants import Tenant, TenantRegistry
from workspace.access import role_on, visible_clients
from workspace.router import Visit, redirect, render

COUNTED = 200  # blocked or failed documents counted per client for the light ("200+" beyond)
PERIOD_TYPES = ("monthly", "bimonthly", "yearly")


def connected(tenant: Tenant) -> bool:
    """A tenant is connected once it has an accounting system with settings (a new tenant has the file default)."""
    return tenant.target != "file" or bool(tenant.target_settings)


def _count(visit: Visit, tenant: str, status: str) -> int:
    found, _ = documents.search(visit.stores.tables, tenant, documents.Query(status=status, limit=COUNTED))
    return len(found)


def summary(visit: Visit, tenant: Tenant) -> dict[str, Any]:
    """One client as the overview shows it: its system, sources, light and what stands behind the light."""
    kept = visit.directory.client_facts(tenant.id)
    check = kept["check"]
    blocked, failed = _count(visit, tenant.id, "blocked"), _count(visit, tenant.id, "failed")
    last, _ = documents.search(visit.stores.tables, tenant.id, documents.Query(status="delivered", limit=1))
    if not connected(tenant):
        light = "not_connected"
    elif check is None:
        light = "untested"
    elif check.get("ok") and not blocked and not failed:
        light = "healthy"
    else:
        light = "attention"
    sources = ["API"] + [f"SFTP ({tenant.id}/inbound)"] + [name.capitalize() for name in sorted(tenant.sources)]
    return {"id": tenant.id, "name": tenant.name, "system": tenant.target if connected(tenant) else "",
            "system_title": _title(visit, tenant.target) if connected(tenant) else "", "sources": sources,
            "light": light, "blocked": blocked, "failed": failed, "check": check, "checked_at": kept["checked_at"],
            "last_delivery": (last[0].get("updated_at") or last[0].get("received_at")) if last else "",
            "role": role_on(visit.user, tenant.id) if visit.user else None}


def _title(visit: Visit, system: str) -> str:
    descriptor = visit.connectors.descriptors.get(system)
    return str(getattr(descriptor, "title", system))


def _tenants(visit: Visit) -> list[Tenant]:
    assert visit.user is not None
    registry = TenantRegistry(visit.stores.tables)
    found = []
    for client in visible_clients(visit.user, visit.directory):
        try:
            found.append(registry.get(client))
        except BilagsbroError:
            continue  # a client whose tenant is gone: nothing to show
    return found


def clients(visit: Visit) -> Response:
    query = visit.request.query
    search = query.get("q", "").strip().lower()
    system, health = query.get("system", ""), query.get("health", "")
    tenants = _tenants(visit)
    systems = sorted({t.target for t in tenants if connected(t)})
    rows = []
    for tenant in sorted(tenants, key=lambda t: t.name.lower()):
        if search and search not in tenant.name.lower() and search not in (tenant.organization_number or ""):
            continue
        if system and (tenant.target != system or not connected(tenant)):
            continue
        row = summary(visit, tenant)
        if health and row["light"] != health:
            continue
        rows.append(row)
    return render(visit, "clients.html", rows=rows, systems=[(s, _title(visit, s)) for s in systems],
                  q=query.get("q", ""), system=system, health=health,
                  lights=("healthy", "attention", "untested", "not_connected"))


def client(visit: Visit, notice: str = "", new_key: str = "", error: str = "", status: int = 200) -> Response:
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    kept = visit.directory.client_facts(tenant.id)
    keys = [k.as_dict() for k in ApiKeys(visit.stores.tables).owned_by(tenant.id)]
    omnium = tenant.sources.get("omnium")
    notice = notice or (visit.request.query.get("notice", "") if visit.request.query.get("notice") in ("saved", "connected", "switched") else "")
    settings = {k: v for k, v in tenant.target_settings.items() if k != "secrets"}
    return render(visit, "client.html", status, client=summary(visit, tenant), tenant=tenant, facts=kept["facts"],
                  settings=settings, credentials=sorted(tenant.target_settings.get("secrets") or {}),
                  keys=keys, sftp=f"{CONTAINER_SFTP}/{tenant.id}/inbound/", notice=notice, new_key=new_key,
                  omnium={k: v for k, v in (omnium or {}).items() if k in ("base_url", "mode", "start")} or None,
                  error=error, period_types=PERIOD_TYPES, role=role_on(visit.user, tenant.id) if visit.user else None)


def save_facts(visit: Visit) -> Response:
    """Company facts: name and organisation number on the tenant (MOD11-checked), the rest beside it."""
    from pipeline.norway.identifiers import normalise_organisation_number, valid_organisation_number

    form = visit.form
    registry = TenantRegistry(visit.stores.tables)
    tenant = registry.get(visit.params["client"])
    number = form.get("organization_number", "").strip()
    if number and not valid_organisation_number(number):
        return client(visit, error=visit.t("mod11"), status=400)
    name = form.get("name", "").strip()[:200] or tenant.name
    month = form.get("fiscal_year_start", "1")
    period = form.get("period_type", "monthly")
    facts = {"fiscal_year_start": int(month) if month.isdigit() and 1 <= int(month) <= 12 else 1,
             "vat_term": form.get("vat_term", "bimonthly") if form.get("vat_term") in PERIOD_TYPES else "bimonthly",
             "period_type": period if period in PERIOD_TYPES else "monthly"}
    if tenant.target == "business_nxt":
        facts["nxt_customer_ids"] = [c.strip() for c in form.get("nxt_customer_ids", "").split(",") if c.strip()]
    before = {"name": tenant.name, "organization_number": tenant.organization_number,
              **visit.directory.client_facts(tenant.id)["facts"]}
    updated = tenant.model_copy(update={"name": name, "organization_number":
                                        normalise_organisation_number(number) if number else None})
    registry.save(updated)
    visit.directory.set_client_facts(tenant.id, facts)
    after = {"name": name, "organization_number": updated.organization_number, **facts}
    visit.audit("company facts changed", client=tenant.id, subject=tenant.id,
                changed={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v})
    return redirect(visit, f"clients/{tenant.id}", notice="saved")


def test_connection(visit: Visit) -> Response:
    """The accounting system's connection test (Target.check through pipeline.records.connections), stored."""
    from pipeline.records.connections import check

    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    if not connected(tenant):
        return client(visit, error=visit.t("not_connected"), status=409)
    result = check(visit.stores, visit.connectors, tenant)
    visit.directory.store_check(tenant.id, result)
    visit.audit("connection tested", client=tenant.id, subject=tenant.target, ok=bool(result.get("ok")))
    return redirect(visit, f"clients/{tenant.id}")


def _no_reason(visit: Visit) -> Response | None:
    """Key changes, as resends, say why (kept in the audit log): refused without a reason of 3 characters or more."""
    return client(visit, error=visit.t("reason_help"), status=400) if len(visit.form.get("reason", "").strip()) < 3 \
        else None


def issue_key(visit: Visit) -> Response:
    if (refused := _no_reason(visit)) is not None:
        return refused
    tenant_id = visit.params["client"]
    label = visit.form.get("label", "").strip()[:100] or None
    key, view = ApiKeys(visit.stores.tables).issue(tenant_id, label=label)
    visit.audit("api key issued", client=tenant_id, subject=view.key_id, why=visit.form.get("reason", "").strip()[:1000],
                hint=view.hint, label=label)
    return client(visit, new_key=key, status=201)


def revoke_key(visit: Visit) -> Response:
    if (refused := _no_reason(visit)) is not None:
        return refused
    tenant_id = visit.params["client"]
    try:
        view = ApiKeys(visit.stores.tables).revoke(tenant_id, visit.params["key"])
    except NotFound:
        return client(visit, error=visit.t("not_found"), status=404)
    visit.audit("api key revoked", client=tenant_id, subject=view.key_id, why=visit.form.get("reason", "").strip()[:1000],
                hint=view.hint)
    return redirect(visit, f"clients/{tenant_id}")


def rotate_key(visit: Visit) -> Response:
    import datetime as dt

    from pipeline.errors import ConfigError
    from pipeline.records.apikeys import DEFAULT_OVERLAP

    if (refused := _no_reason(visit)) is not None:
        return refused
    tenant_id = visit.params["client"]
    try:
        key, new, old = ApiKeys(visit.stores.tables).rotate(tenant_id, visit.params["key"], overlap=DEFAULT_OVERLAP)
    except NotFound:
        return client(visit, error=visit.t("not_found"), status=404)
    except ConfigError as exc:
        return client(visit, error=exc.message, status=409)
    visit.audit("api key rotated", client=tenant_id, subject=old.key_id, why=visit.form.get("reason", "").strip()[:1000],
                new_key=new.key_id, hint=new.hint, old_works_until=old.expires_at or str(dt.datetime.now(dt.UTC)))
    return client(visit, new_key=key, status=201)

