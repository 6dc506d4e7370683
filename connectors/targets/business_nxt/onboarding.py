"""Onboarding Business NXT: which companies the integration's credentials reach for the customer's id(s)
(`availableCompanies(customerNo:)`, docs: schema/queries/companies), and the connection test — the chosen company
among them, its voucher series, and its facts (organisation number, fiscal year, VAT term, period type), which
pipeline.connections keeps with the connection. Failures are ConfigErrors in the customer's words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.targets.business_nxt import queries
from connectors.targets.business_nxt.mapping import NAME
from pipeline.errors import ConfigError, DataError

if TYPE_CHECKING:
    from connectors.targets.business_nxt.target import BusinessNxtTarget

VAT_TERMS = {1: "monthly", 2: "bimonthly", 6: "half-yearly", 12: "yearly"}


def companies(target: BusinessNxtTarget) -> list[dict[str, Any]]:
    """Every company `availableCompanies` reaches for each of the connection's customer ids."""
    out: list[dict[str, Any]] = []
    for customer in target.settings.customer_ids:
        try:
            data = target.graphql("available_companies", queries.AVAILABLE_COMPANIES, {"customerNo": customer})
        except (ConfigError, DataError) as exc:
            if exc.status != 200:  # not Business NXT's answer about this customer (the token, the endpoint)
                raise
            raise ConfigError(f"Business NXT customer {customer}: {exc.provider_message or exc.message}. Check "
                              "the number, and that the user named as the client id has «Connect application» "
                              "and access to the customer's companies", tenant=target.context.tenant,
                              connector=NAME, status=exc.status, request_id=exc.request_id) from exc
        for item in (data.get("availableCompanies") or {}).get("items") or []:
            out.append({"value": item.get("vismaNetCompanyId"), "name": item.get("name"),
                        "organization_number": item.get("organizationNo"),
                        "customer_id": item.get("vismaNetCustomerId") or customer})
    if not out:
        raise ConfigError(f"the integration reaches no Business NXT company for customer id(s) "
                          f"{', '.join(map(str, target.settings.customer_ids))}: in Business NXT, a user named "
                          f"{target.settings.client_id!r} with «Connect application» needs a «Connect Application "
                          "Access» row per company", tenant=target.context.tenant, connector=NAME)
    return out

def check(target: BusinessNxtTarget) -> dict[str, Any]:
    """The connection test: the companies the integration reaches, the chosen one among them, its facts."""
    reachable = target.companies()
    listed = "; ".join(f"{c['value']} {c['name']}" for c in reachable)
    if target.settings.company_no is None:
        raise ConfigError(f"choose the Business NXT company (--company-no): {listed}", tenant=target.context.tenant,
                          connector=NAME)
    chosen = next((c for c in reachable if c["value"] == target.company), None)
    if chosen is None:
        raise ConfigError(f"company {target.company} is not one the integration reaches for customer id(s) "
                          f"{', '.join(map(str, target.settings.customer_ids))}; it reaches: {listed}",
                          tenant=target.context.tenant, connector=NAME)
    data = (target.graphql("company_information", queries.COMPANY_INFORMATION, {"cid": target.company})
            .get("useCompany") or {})
    info: dict[str, Any] = next(iter((data.get("companyInformation") or {}).get("items") or []), {})
    series = {s["voucherSeriesNo"]: s for s in (data.get("voucherSeries") or {}).get("items") or []}
    if target.settings.voucher_series not in series:
        names = "; ".join(f"{n} {s.get('name') or ''}".strip() for n, s in sorted(series.items()))
        raise ConfigError(f"voucher series {target.settings.voucher_series} does not exist in {chosen['name']}; it "
                          f"has: {names}", tenant=target.context.tenant, connector=NAME)
    months = info.get("vatTermMonths")
    facts = {"company": info.get("name") or chosen["name"],
             "organization_number": info.get("organisationNo") or chosen.get("organization_number"),
             "fiscal_year": info.get("accountingYear"),
             "vat_term": VAT_TERMS.get(int(months), f"{months} months") if months else None,
             "period_type": f"{info['periodsPerYear']} periods a year" if info.get("periodsPerYear") else None,
             "locked_until": info.get("lockedUntilDate") or None}
    return {"target": NAME, "company_no": target.company, "company": facts["company"],
            "customer_id": chosen.get("customer_id"), "voucher_series": target.settings.voucher_series,
            "direct_posting": target.settings.direct_posting, "facts": facts}
