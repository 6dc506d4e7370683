"""`bilagsbro switch TENANT SYSTEM`: the preview of a switch of accounting system, then — confirmed at a terminal
or with --yes — the switch itself (pipeline/switching.py). The new system's flags are made from its descriptor,
as for `connect`; credentials come from a file, the environment or a prompt, never from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from typing import Any

from bilagsbro.connect import _print_json, _with_stores
from bilagsbro.secret_input import read_secret


def cmd_switch(args: argparse.Namespace) -> int:
    import connectors
    from bilagsbro.flags import given_settings
    from pipeline.errors import ConfigError
    from pipeline.received import send_all
    from pipeline.records.names import QUEUE_TRANSLATED
    from pipeline.switching import preview, switch

    descriptor = connectors.CONNECTORS[args.target]
    settings = given_settings(args, descriptor)
    credentials = {secret.name: value for secret in descriptor.secrets
                   if (value := read_secret(args, secret.name, f"{args.target} {secret.name.replace('_', ' ')}",
                                            f"{secret.label}: {secret.where}"))}
    resend_from = dt.date.fromisoformat(args.resend_from) if args.resend_from else None

    def run(stores: Any) -> int:
        registry = connectors.registry()
        try:
            seen = preview(stores, registry, args.tenant, args.target, settings=settings, credentials=credentials)
        except ConfigError as exc:
            print(f"bilagsbro: {exc.message}", file=sys.stderr)
            return 2
        _print_json(seen)
        if not seen["connection"]["ok"]:
            print(f"bilagsbro: the connection test of {args.target} failed; nothing changed", file=sys.stderr)
            return 1
        if args.preview:
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                print("bilagsbro: this was the preview; switch with --yes --reason '...'", file=sys.stderr)
                return 0
            answer = input(f"Switch {args.tenant} from {seen['from']} to {args.target}? [y/N] ").strip().lower()
            if answer not in ("y", "yes", "j", "ja"):
                print("bilagsbro: not switched", file=sys.stderr)
                return 0
        if not args.reason:
            print("bilagsbro: give --reason: it is kept with the switch", file=sys.stderr)
            return 2
        try:
            done = switch(stores, registry, args.tenant, args.target, by=f"cli {getpass.getuser()}",
                          reason=args.reason, settings=settings, credentials=credentials, resend_from=resend_from)
        except ConfigError as exc:
            print(f"bilagsbro: {exc.message}", file=sys.stderr)
            return 2
        envelopes = (done.get("resend") or {}).pop("envelopes", [])
        if envelopes and stores.queues is not None:
            from pipeline.envelope import Envelope

            send_all(stores.queues, QUEUE_TRANSLATED, [Envelope.from_json(e) for e in envelopes])
        _print_json(done)
        return 0 if done["switched"] else 1

    result: int = _with_stores(run)
    return result


def add_switch_parsers(sub: Any) -> None:
    import connectors
    from bilagsbro.flags import add_secret_flags, add_setting_flags
    from pipeline import descriptors

    parser = sub.add_parser("switch", help="switch a tenant's accounting system: a preview first, then the switch")
    parser.add_argument("tenant")
    systems = parser.add_subparsers(dest="target", required=True, metavar="SYSTEM",
                                    help=", ".join(descriptors.targets(connectors.CONNECTORS)))
    for name, descriptor in descriptors.targets(connectors.CONNECTORS).items():
        system = systems.add_parser(name, help=descriptor.title, description=(
            f"Switch a tenant to {descriptor.title}: first what it would make of the last 90 days (its preflight "
            "of every document, what it lacks), then the switch; the old connection is kept read-only."))
        system.add_argument("--preview", action="store_true", help="show the preview only")
        system.add_argument("--yes", action="store_true", help="switch without asking (after the preview)")
        system.add_argument("--reason", help="why (kept with the switch and any resend)")
        system.add_argument("--resend-from", metavar="YYYY-MM-DD",
                            help="resend every document dated this day or later (the open period) to the new system")
        add_setting_flags(system, descriptor)
        add_secret_flags(system, descriptor)
        system.set_defaults(fn=cmd_switch)
