"""The Tripletex target: shared-form vouchers posted as manual vouchers through Tripletex API v2.

API: https://tripletex.no/v2-docs/ (spec: https://tripletex.no/v2/openapi.json, kept in
`../shared/specs/tripletex/openapi.json`); facts and quirks in reference/target-apis.md §1.

The package, as every target built with the kit (docs/connect/adding-a-system.md): `descriptor.py` (settings,
secrets, what Tripletex accepts), `client.py` (its HTTP dialect and session auth), `mapping.py` (pure mapping),
`parties.py` (customers and suppliers), and `target.py`, the target itself.

- Auth: a session token from consumer + employee token (`PUT /token/session/:create`), then HTTP Basic
  with user `0` (the employee's own company) or an accountant client's company id, password the token.
- Vouchers: `POST /ledger/voucher?sendToLedger=false` (a draft, "non-posted") unless the tenant opted in
  to direct posting. Postings carry signed `amountGross` and a `vatType`: Tripletex splits VAT out itself.
- Everything is referenced by Tripletex's internal id, so account, VAT, customer, supplier, department
  and project numbers are resolved once per connection (one bulk lookup per kind), cached, and shared by the
  workers of a burst (pipeline.lookups).
- Idempotency: our reference travels in `externalVoucherNumber` (at most 70 characters: longer ones are
  shortened deterministically, mapping.EXTERNAL_NUMBER_MAX); `find` searches
  `GET /ledger/voucher/>externalVoucherNumber` and, because it is not verified that this search lists
  vouchers not yet posted (our drafts), `GET /ledger/voucher/>nonPosted` too. Tripletex does not enforce
  the number's uniqueness, so the idempotency ledger (pipeline/ledger.py) asks `find` before it posts
  again after an unknown outcome.
- Preflight also checks what Tripletex refuses beyond its spec (sources and what is unverified:
  docs/fidelity.md): VAT-locked accounts (mapping.vat_rules), the balance per posting date, closed
  accounting periods and reported VAT terms (periods.py); inactive customers and suppliers are told from
  missing ones (parties.py). A refusal at delivery is mapped back to our lines (refusals.py).
- The connection test (`check`) says who the tokens log in as and which permissions they lack
  (permissions.py).
- Customers are matched by customer number (`customerAccountNumber` filter, which lists customer
  numbers), else organisation number, else e-mail, else mobile phone (`phoneNumberMobile`); a name alone
  is not matched (ambiguous), nor is an identifier several customers share. Suppliers alike
  (`supplierNumber`; no phone filter). With the connection setting `create_customers`, a missing customer
  is created (`POST /customer`) exactly once: see `parties.py`.
- Only NOK vouchers: for another currency Tripletex needs the NOK amount (`amountGross`) beside the
  currency amount, and the shared form carries no exchange rate.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The target's names, loaded on first use: the registry imports only `descriptor` (cold start). A submodule
    asked for by name (`from ... import descriptor`) is left to the import system."""
    import importlib
    import importlib.util

    if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.target"), name)
