"""The commands made from the connector registry: `connect TENANT SYSTEM`, `source add TENANT SOURCE` and
`connectors` — each system's flags generated from its descriptor (bilagsbro/flags.py)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bilagsbro.secret_input import add_secret_options, read_secret


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _with_stores(fn: Any) -> Any:
    from bilagsbro import cli

    return cli._with_stores(fn)  # one way to storage for every command (tests replace it)


def secret_names() -> set[str]:
    """Every secret a connector declares: refused as a plain argument."""
    import connectors

    return {secret.name for d in connectors.CONNECTORS.values() for secret in d.secrets}


def cmd_connectors(args: argparse.Namespace) -> int:
    """Every system and format Bilagsbro connects, from the registry (connectors.CONNECTORS)."""
    import connectors
    from connectors.catalogue import listing

    rows = listing(connectors.CONNECTORS)
    if args.json:
        _print_json(rows)
        return 0
    for kind, title in (("target", "Accounting systems (bilagsbro connect TENANT SYSTEM --help)"),
                        ("pulled-source", "Pulled sources (bilagsbro source add TENANT SOURCE --help)"),
                        ("file-source", "File formats (bilagsbro format TENANT FORMAT --options F)")):
        print(title)
        for row in (r for r in rows if r["kind"] == kind):
            secrets = ", ".join(s["name"] for s in row["secrets"])
            print(f"  {row['name']:20s} {row['title']}" + (f"  [secrets: {secrets}]" if secrets else ""))
            print(f"  {'':20s} {row['summary']}")
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    """Point a tenant at an accounting system: new credentials are tested first and take over only if the
    test passes; otherwise they stay pending and the tenant goes on with its current connection."""
    import connectors
    from bilagsbro.flags import given_settings
    from pipeline.errors import ConfigError, SecretsMissing
    from pipeline.records.connections import change, describe

    descriptor = connectors.CONNECTORS[args.target]
    settings = given_settings(args, descriptor)
    if args.direct_posting is not None:
        settings["direct_posting"] = args.direct_posting
    credentials = {secret.name: value for secret in descriptor.secrets
                   if (value := read_secret(args, secret.name, f"{args.target} {secret.name.replace('_', ' ')}",
                                            f"{secret.label}: {secret.where}"))}

    picks = getattr(descriptor, "picks", None)
    if picks and settings.get(picks) is None and not _in_force(args.tenant, args.target, picks, args.further):
        chosen = _pick(args, descriptor, settings, credentials)
        if chosen is None:
            return 2
        settings[picks] = chosen

    def run(stores: Any) -> dict[str, Any]:
        outcome = change(stores, connectors.registry(), args.tenant, args.target, settings=settings,
                         credentials=credentials, further=args.further)
        return {**describe(outcome.tenant), "activated": outcome.activated, "check": outcome.check,
                **({"superseded": True} if outcome.superseded else {})}

    try:
        result = _with_stores(run)
    except SecretsMissing as exc:
        flags = ", ".join(f"--{s.flag}-file/-env" for s in descriptor.secrets)
        print(f"bilagsbro: {exc.message} (give {flags}, or run in a terminal to be prompted)", file=sys.stderr)
        return 2
    except ConfigError as exc:  # settings refused, no such tenant, ...: the message says what to fix
        print(f"bilagsbro: {exc.message}", file=sys.stderr)
        return 2
    _print_json(result)
    if not result["activated"]:
        print(f"bilagsbro: the connection test failed; {args.tenant} goes on with its current connection"
              + (f" (not connected to {args.target})" if args.further else " (the new settings are kept as pending)"),
              file=sys.stderr)
    return 0 if result["activated"] else 1


def _in_force(tenant: str, target: str, setting: str, further: bool) -> bool:
    """Whether the tenant's connection to `target` has `setting` already (a key rotation keeps its company)."""
    from pipeline.errors import ConfigError
    from pipeline.records.tenants import TenantRegistry

    try:
        found = _with_stores(lambda stores: TenantRegistry(stores.tables).get(tenant))
    except ConfigError:
        return False  # no such tenant: the change itself says so
    if further:
        return ((found.connections.get(target) or {}).get("settings") or {}).get(setting) is not None
    return bool(found.target == target and found.target_settings.get(setting) is not None)


def _pick(args: argparse.Namespace, descriptor: Any, settings: dict[str, Any], credentials: dict[str, str]) -> Any:
    """The system's list to pick the `picks` setting from (pipeline.records.connections.companies): chosen at a terminal,
    else printed (as JSON) with how to give the choice; None when nothing was chosen."""
    import connectors
    from pipeline.errors import ConfigError
    from pipeline.records.connections import companies

    flag = f"--{descriptor.picks.replace('_', '-')}"
    try:
        listed = _with_stores(lambda stores: companies(stores, connectors.registry(), args.tenant, args.target,
                                                        settings=settings, credentials=credentials))
    except ConfigError as exc:
        print(f"bilagsbro: cannot list the companies: {exc.message}", file=sys.stderr)
        return None
    choices = listed["companies"]
    if not sys.stdin.isatty():
        _print_json(listed)
        print(f"bilagsbro: choose one of these {len(choices)} companies with {flag} (its value)", file=sys.stderr)
        return None
    for number, company in enumerate(choices, start=1):
        extra = ", ".join(f"{k} {v}" for k, v in company.items() if k not in ("value", "name") and v)
        print(f"  {number:2d}. {company['name']} ({descriptor.picks} {company['value']}{', ' + extra if extra else ''})")
    answer = input(f"Which company should {args.tenant} deliver to? [1-{len(choices)}] ").strip()
    if not answer.isdigit() or not 1 <= int(answer) <= len(choices):
        print(f"bilagsbro: no company chosen (give {flag})", file=sys.stderr)
        return None
    return choices[int(answer) - 1]["value"]


def cmd_source_add(args: argparse.Namespace) -> int:
    """A pulled source for a tenant: settings in the tenant, the client secret in the secret store, in force
    once a read from the source with them succeeds and the accounts its booking options name exist in the
    tenant's accounting system."""
    import connectors
    from bilagsbro.flags import given_settings
    from connectors.sources.omnium import BookingOptions
    from pipeline.errors import ConfigError
    from pipeline.records.connections import change_source

    descriptor = connectors.CONNECTORS[args.source]
    settings = given_settings(args, descriptor)
    booking = dict(settings.pop("booking", None) or {})
    if args.mode:
        booking["mode"] = args.mode
    BookingOptions.from_options(booking)  # refuse unknown options now, not at the first pull
    settings["booking"] = booking
    descriptor.settings.read(settings, connector=args.source, strict=True)
    [secret] = descriptor.secrets
    value = read_secret(args, secret.name, f"{descriptor.title} {secret.name.replace('_', ' ')}",
                        f"{secret.label}: {secret.where}")

    def add(stores: Any) -> dict[str, Any]:
        # With the targets: the accounts the booking options name are checked in the tenant's accounting system.
        outcome = change_source(stores, connectors.pulled()[args.source], args.tenant, args.source,
                                settings=settings, secret_setting=f"{secret.name}_name", secret=value,
                                targets=connectors.registry())
        in_force = outcome.tenant.sources.get(args.source, {})
        return {"tenant_id": args.tenant, "source": args.source, "activated": outcome.activated,
                "check": outcome.check,
                "settings": {k: v for k, v in in_force.items() if k != f"{secret.name}_name"},
                "schedule": "OMNIUM_PULL_SCHEDULE (default every 5 minutes, UTC)"}

    try:
        result = _with_stores(add)
    except ConfigError as exc:
        print(f"bilagsbro: {exc.message} (give --{secret.flag}-file or --{secret.flag}-env, or run in a terminal "
              "to be prompted)", file=sys.stderr)
        return 2
    _print_json(result)
    if not result["activated"]:
        why = (result.get("check") or {}).get("error", {}).get("message", "the source could not be read")
        print(f"bilagsbro: {args.source} is not in force for {args.tenant}: {why}", file=sys.stderr)
    return 0 if result["activated"] else 1


def cmd_subscriptions_add(args: argparse.Namespace) -> int:
    """A signing secret for the tenant's subscription source: kept in the secret store, shown here once."""
    from api.subscriptions import add_signing_secret

    def add(stores: Any) -> dict[str, Any]:
        name, value = add_signing_secret(stores, args.tenant)
        return {"tenant_id": args.tenant, "source": "subscriptions", "secret_name": name, "signing_secret": value,
                "url": f"/api/v1/sources/subscriptions/{args.tenant}/events"}

    _print_json(_with_stores(add))
    return 0


def cmd_onboarding_link(args: argparse.Namespace) -> int:
    """A hosted onboarding link (Fortnox's consent): the customer opens it, approves in Fortnox, and the connection
    is made and tested; the operator's client secret by file, environment or prompt, never on the command line."""
    import connectors
    from bilagsbro.flags import given_settings
    from connectors.targets.fortnox.consent import new_link
    from pipeline.errors import ConfigError
    from pipeline.records.tenants import TenantRegistry

    descriptor = connectors.CONNECTORS[args.target]
    settings = given_settings(args, descriptor)
    try:
        client_secret = read_secret(args, "client_secret", "OAuth client secret",
                                    "the operator's: Bilagsbro's app in Fortnox's developer portal (Mina appar → OAuth)")
    except ValueError as exc:
        print(f"bilagsbro: {exc}", file=sys.stderr)
        return 2

    def make(stores: Any) -> dict[str, Any]:
        tenant = TenantRegistry(stores.tables).get(args.tenant)
        return new_link(stores, tenant.id, settings, client_secret or "", args.url)

    try:
        made = _with_stores(make)
    except ConfigError as exc:
        hint = (" (the operator's client secret: give --client-secret-file or --client-secret-env, run in a "
                "terminal to be prompted, or set it once for every tenant: bilagsbro platform set fortnox "
                "client_secret)"
                if any(p.field == "credentials.client_secret" for p in exc.problems) else "")
        print(f"bilagsbro: {exc.message}{hint}", file=sys.stderr)
        return 2
    _print_json(made)
    print(f"Send this link to the customer: it works once, until {made['expires']}", file=sys.stderr)
    return 0


def cmd_platform_set(args: argparse.Namespace) -> int:
    """The integration's own credential (or client id) for a system, for every tenant: pipeline.records.platform."""
    import connectors
    from pipeline.records import platform

    descriptor = connectors.CONNECTORS[args.system]
    if args.key not in platform.keys(descriptor):
        print(f"bilagsbro: {args.key} is not one of {descriptor.title}'s own (the integration's); known: "
              f"{', '.join(platform.keys(descriptor))}", file=sys.stderr)
        return 2
    try:
        value = read_secret(args, "value", f"{descriptor.title} {args.key}")
    except ValueError as exc:
        print(f"bilagsbro: {exc}", file=sys.stderr)
        return 2
    if not value:
        print("bilagsbro: give the value with --value-file or --value-env, or run in a terminal to be prompted",
              file=sys.stderr)
        return 2
    name = _with_stores(lambda stores: platform.set_value(stores.secrets, descriptor, args.key, value))
    _print_json({"system": args.system, "key": args.key, "secret_name": name})
    return 0


def cmd_platform_list(args: argparse.Namespace) -> int:
    """Which of each system's own credentials and settings the operator has set: names, never values."""
    import connectors
    from pipeline import descriptors
    from pipeline.records import platform

    def listed(stores: Any) -> dict[str, Any]:
        return {name: {key: platform.value(stores.secrets, name, key) is not None for key in platform.keys(d)}
                for name, d in descriptors.targets(connectors.CONNECTORS).items() if platform.keys(d)}
    _print_json(_with_stores(listed))
    return 0


def add_connect_parsers(sub: Any) -> None:
    """`connect TENANT SYSTEM`, `source add TENANT SOURCE` (each system's flags made from its descriptor) and
    `connectors`."""
    import connectors
    from bilagsbro.flags import add_secret_flags, add_setting_flags
    from pipeline import descriptors
    from pipeline.records.platform import keys as platform_keys

    conn = sub.add_parser("connect", help="connect a tenant to its accounting system, then test the connection")
    conn.add_argument("tenant")
    systems = conn.add_subparsers(dest="target", required=True, metavar="SYSTEM",
                                  help=", ".join(descriptors.targets(connectors.CONNECTORS)))
    for name, descriptor in descriptors.targets(connectors.CONNECTORS).items():
        drafts = descriptor.accepts.drafts
        system = systems.add_parser(name, help=descriptor.title, description=(
            f"Connect a tenant to {descriptor.title}. Connection test: {descriptor.check}. Drafts: "
            + (drafts.meaning if drafts.available else f"none ({drafts.meaning})")
            + (f". Guide: {descriptor.guide}" if descriptor.guide else "")))
        posting = system.add_mutually_exclusive_group()
        posting.add_argument("--direct-posting", dest="direct_posting", action="store_true", default=None,
                             help="post to the ledger, not as drafts")
        posting.add_argument("--drafts", dest="direct_posting", action="store_false",
                             help="post as drafts (the default for a new connection)")
        system.add_argument("--further", action="store_true",
                            help="a further system beside the primary one (resends may go there; new documents "
                                 "still go to the primary): e.g. the new system before a switch")
        add_setting_flags(system, descriptor)
        add_secret_flags(system, descriptor)
        system.set_defaults(fn=cmd_connect)

    onboarding = sub.add_parser("onboarding-link", help="a hosted link where the customer connects its system "
                                                        "(Fortnox's consent)")
    onboarding.add_argument("tenant")
    linked = onboarding.add_subparsers(dest="target", required=True, metavar="SYSTEM", help="fortnox")
    fortnox = connectors.CONNECTORS["fortnox"]
    link = linked.add_parser("fortnox", help=fortnox.title, description=(
        "Make a one-use link (24 hours) to Fortnox's consent for the tenant; the customer approves, and the "
        f"connection is made and tested. Guide: {fortnox.guide}"))
    link.add_argument("--url", default="http://localhost:7071",
                      help="the function app's address the link is served from (default: the local stack's)")
    add_setting_flags(link, fortnox)
    add_secret_options(link, "client_secret", "OAuth client secret",
                       "the operator's: Bilagsbro's app in Fortnox's developer portal (Mina appar → OAuth). Never "
                       "on the command line; without these, a terminal asks for it (input hidden).")
    link.set_defaults(fn=cmd_onboarding_link)

    source = sub.add_parser("source", help="pulled sources").add_subparsers(dest="action", required=True)
    sadd = source.add_parser("add", help="pull a tenant's orders on a timer (Omnium OMS)")
    sadd.add_argument("tenant")
    pulled = sadd.add_subparsers(dest="source", required=True, metavar="SOURCE",
                                 help=", ".join(descriptors.pulled(connectors.CONNECTORS)))
    for name, descriptor in descriptors.pulled(connectors.CONNECTORS).items():
        one = pulled.add_parser(name, help=descriptor.title, description=(
            f"Pull a tenant's orders from {descriptor.title} on a timer. Test: {descriptor.check}."))
        add_setting_flags(one, descriptor)
        one.add_argument("--mode", choices=["daily", "order"],
                         help="daily summary per store (default) or per order (sets booking's mode)")
        add_secret_flags(one, descriptor)
        one.set_defaults(fn=cmd_source_add)

    events = pulled.add_parser("subscriptions", help="a subscription system's signed events (a webhook)", description=(
        "Issue the tenant a signing secret for POST /api/v1/sources/subscriptions/TENANT/events "
        "(docs/sources/subscriptions.md); printed once. The previous secret stays active beside it (rotation)."))
    events.set_defaults(fn=cmd_subscriptions_add)

    plat = sub.add_parser("platform", help="Bilagsbro's own credentials for a system (the integration's, not the "
                                           "customer's), set once for every tenant").add_subparsers(
        dest="action", required=True)
    pset = plat.add_parser("set", help="set one: its value from --value-file, --value-env or a prompt (hidden)",
                           description="Set Bilagsbro's own credential or setting for an accounting system once for "
                                       "every tenant (e.g. Tripletex's consumer token, Fortnox's client id and "
                                       "secret): connections not given their own use it, and the connect wizard "
                                       "no longer asks for it. The value never goes on the command line.")
    pset.add_argument("system", choices=sorted(n for n, d in descriptors.targets(connectors.CONNECTORS).items()
                                               if platform_keys(d)))
    pset.add_argument("key", help="e.g. consumer_token, application_key, subscription_key, client_id, client_secret")
    add_secret_options(pset, "value", "value")
    pset.set_defaults(fn=cmd_platform_set)
    plist = plat.add_parser("list", help="which of the integration's credentials and settings are set (never values)")
    plist.set_defaults(fn=cmd_platform_list)

    listed = sub.add_parser("connectors", help="the accounting systems, sources and file formats Bilagsbro connects")
    listed.add_argument("--json", action="store_true")
    listed.set_defaults(fn=cmd_connectors)
