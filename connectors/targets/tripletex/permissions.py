"""What the employee token may do in Tripletex, checked by the connection test before the first voucher fails.

Tripletex gives each employee token a set of entitlements (spec info: "Each employee token must be given a
set of entitlements"); `GET /employee/entitlement` lists the token owner's (`/employee/entitlement/client`
an accountant's in a client company). What Bilagsbro needs, from the spec (2.72.00):

- `POST /ledger/voucher?sendToLedger=…` — "Should the voucher be sent to ledger? Requires the 'Advanced
  Voucher' permission." Bilagsbro always states the choice (drafts by default), so it asks for
  `AUTH_ADVANCED_VOUCHER` whichever way the tenant books [unverified: which value needs it].
- `POST /customer`, with the setting `create_customers` — `AUTH_CREATE_CUSTOMER` [unverified: the permission
  Tripletex checks there].

The permission names are the spec's own (`EmployeeRoleModelDTO.role`); [unverified] that `Entitlement.name`
carries them ("Descriptive name for the privilege. Might change between releases."). So the check only says
a permission is *missing* when the list names permissions in that form and not this one; a list it cannot
read, or whose names it does not recognise, is reported as unchecked — never a failed connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.errors import BilagsbroError

if TYPE_CHECKING:
    from connectors.targets.tripletex.target import TripletexTarget

ADVANCED_VOUCHER = "AUTH_ADVANCED_VOUCHER"
CREATE_CUSTOMER = "AUTH_CREATE_CUSTOMER"
# What each permission is called in Tripletex's user interface, for the operator who has to grant it.
PLAIN = {
    ADVANCED_VOUCHER: "'Advanced Voucher' (Avansert bilag) — to post vouchers through the API, drafts included",
    CREATE_CUSTOMER: "'Create customer' (Opprette kunder) — to create missing customers (setting create_customers)",
}


@dataclass
class Permissions:
    """What the check found: `held` (None when unreadable), what is `missing`, and why it could not tell."""

    held: set[str] | None
    needed: tuple[str, ...]
    missing: tuple[str, ...] = ()
    unchecked: str | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"needed": list(self.needed), "missing": list(self.missing)}
        if self.unchecked:
            out["unchecked"] = self.unchecked
        return out

    def explain(self) -> str:
        """The missing permissions in plain words, for the operator who grants them in Tripletex."""
        return ("the Tripletex employee token lacks " + "; ".join(PLAIN.get(p, p) for p in self.missing)
                + ". Grant it to the token's user in Tripletex (Settings → Employees → access, or a new token "
                  "under API access), then test the connection again")


def needed(*, create_customers: bool) -> tuple[str, ...]:
    return (ADVANCED_VOUCHER, CREATE_CUSTOMER) if create_customers else (ADVANCED_VOUCHER,)


def recognised(names: Iterable[str]) -> set[str]:
    """The names that look like the spec's permission names (`AUTH_…`, `ROLE_…`), upper-cased."""
    return {n.strip().upper() for n in names if n and n.strip().upper().startswith(("AUTH_", "ROLE_"))}


def check(target: TripletexTarget, *, create_customers: bool) -> Permissions:
    """Read the token's entitlements and compare them with what the tenant's settings need."""
    wanted = needed(create_customers=create_customers)
    company = target.settings.company_id
    path, params = ("employee/entitlement", {}) if company == "0" else (
        "employee/entitlement/client", {"customerId": company})
    try:
        entitlements = target._list(path, {**params, "fields": "name,entitlementId"})
    except BilagsbroError as exc:
        reason = exc.provider_message or exc.message
        return Permissions(None, wanted, unchecked=f"Tripletex would not list the token's permissions "
                                                   f"({exc.status or exc.kind}: {reason}); not checked")
    names = recognised(str(e.get("name") or "") for e in entitlements)
    if not names:
        return Permissions(None, wanted, unchecked="Tripletex listed the token's permissions under names Bilagsbro "
                                                   "does not recognise; not checked")
    return Permissions(names, wanted, missing=tuple(p for p in wanted if p not in names))
