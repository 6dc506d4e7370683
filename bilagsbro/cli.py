"""`bilagsbro`: run the local stack, manage tenants, dry-run files and show the demo.

Every command prints JSON where a program may read it (`tenant add`, `dry-run --json`) and plain
Norwegian-safe text otherwise. Commands that need storage find it the way `bilagsbro.stack` says.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bilagsbro.connect import add_connect_parsers, secret_names
from bilagsbro.export import add_export_parser
from bilagsbro.secret_input import refused_argument


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _logging() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every queue poll at INFO


def cmd_serve(args: argparse.Namespace) -> int:
    from bilagsbro.stack import local_stack

    _logging()
    with local_stack(args.port, host_json=args.host_json) as host:
        print(f"Bilagsbro local stack on http://127.0.0.1:{host.port}/api  (docs: /api/docs)", flush=True)
        print("Create a tenant: bilagsbro tenant add --name 'Min Butikk AS'   Stop: Ctrl+C", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")
    return 0


def _with_stores(fn: Any) -> Any:
    from bilagsbro.stack import find_storage, prepare, stores_for

    storage = find_storage()
    try:
        prepare(storage.connection_string)
        return fn(stores_for(storage.connection_string))
    finally:
        storage.stop()


def cmd_tenant_add(args: argparse.Namespace) -> int:
    from pipeline.records.tenants import TenantRegistry

    def add(stores: Any) -> dict[str, str]:
        registry = TenantRegistry(stores.tables)
        tenant = registry.add(args.name, organization_number=args.org_number)
        return {"tenant_id": tenant.id, "name": tenant.name, "api_key": registry.issue_key(tenant.id)}

    _print_json(_with_stores(add))
    return 0


def cmd_tenant_list(args: argparse.Namespace) -> int:
    from pipeline.records.tenants import TenantRegistry

    _print_json(_with_stores(lambda s: [
        {"tenant_id": t.id, "name": t.name, "target": t.target} for t in TenantRegistry(s.tables).all()]))
    return 0


def cmd_admin_key(args: argparse.Namespace) -> int:
    from pipeline.records.tenants import TenantRegistry

    _print_json({"admin_key": _with_stores(lambda s: TenantRegistry(s.tables).issue_key(None, role="admin"))})
    return 0


# -- API keys ---------------------------------------------------------------------------------------------


def _key_owner(args: argparse.Namespace) -> str | None:
    if args.admin == bool(args.tenant):
        raise ValueError("name a TENANT, or --admin for the admin keys")
    return None if args.admin else str(args.tenant)


def cmd_key(args: argparse.Namespace) -> int:
    """List (by id and hint), issue, revoke or rotate a tenant's API keys (or, with --admin, admin keys)."""
    from pipeline.errors import ConfigError
    from pipeline.ports import NotFound
    from pipeline.records.apikeys import ApiKeys, parse_overlap
    from pipeline.records.tenants import TenantRegistry

    owner = _key_owner(args)

    def run(stores: Any) -> Any:
        keys = ApiKeys(stores.tables)
        if owner is not None:
            TenantRegistry(stores.tables).get(owner)  # a typo in the tenant id is an error, not an empty list
        if args.action == "list":
            return {"tenant_id": owner, "keys": [k.as_dict() for k in keys.owned_by(owner)]}
        if args.action == "issue":
            key, view = keys.issue(owner, role="admin" if owner is None else "tenant", label=args.label)
            return {"api_key": key, "key": view.as_dict()}
        if args.action == "revoke":
            return {"key": keys.revoke(owner, args.key_id).as_dict()}
        key, new, old = keys.rotate(owner, args.key_id, overlap=parse_overlap(args.overlap), label=args.label)
        return {"api_key": key, "key": new.as_dict(), "replaces": old.as_dict()}

    try:
        _print_json(_with_stores(run))
    except (NotFound, ConfigError) as exc:
        print(f"bilagsbro: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_format(args: argparse.Namespace) -> int:
    """A file format's options for a tenant (its VAT codes → SAF-T codes, accounts, ...)."""
    import connectors
    from pipeline.records.connections import set_format_options
    from pipeline.records.tenants import TenantRegistry

    if args.format not in connectors.SOURCES:
        print(f"unknown format {args.format!r}; known: {', '.join(sorted(connectors.SOURCES))}", file=sys.stderr)
        return 2
    options = json.loads(Path(args.options).read_text("utf-8"))
    descriptor = connectors.CONNECTORS[args.format]
    _with_stores(lambda s: set_format_options(TenantRegistry(s.tables), args.tenant, descriptor, options))
    _print_json({"tenant_id": args.tenant, "format": args.format, "options": options})
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    """One pull now, as the timer would run it."""
    import datetime as dt

    import connectors
    from pipeline.pulls.scheduled import pull_tenant
    from pipeline.records.tenants import TenantRegistry

    def run(stores: Any) -> dict[str, Any]:
        tenant = TenantRegistry(stores.tables).get(args.tenant)
        if args.source not in tenant.sources:
            raise ValueError(f"tenant {tenant.id} has no {args.source} source: bilagsbro source add first")
        report = pull_tenant(stores, connectors.pulled()[args.source], tenant, now=dt.datetime.now(dt.UTC))
        result = report.result
        return {"receipt": report.receipt, "received": result.received if result else 0,
                "skipped": result.skipped if result else None,
                "documents": report.documents, "problems": [p.as_dict() for p in report.problems],
                **({"error": report.error} if report.error else {})}

    out = _with_stores(run)
    _print_json(out)
    return 1 if out.get("error") else 0


def _connectors() -> Any:
    import connectors

    return connectors.registry()


def cmd_dry_run(args: argparse.Namespace) -> int:
    """Everything but delivery, streamed (bilagsbro/dry_run.py): documents, problems, totals, and with
    --tenant the payloads for its accounting system. Only errors fail the run (exit 1)."""
    from bilagsbro import dry_run

    path = Path(args.file)
    if not path.exists():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    conns = _connectors()
    format = args.format
    if format == "api":  # the name this command used before; the API and the docs say shared-form
        format = "shared-form"
    if format and format not in conns.sources:
        print(f"unknown format {format!r}; known: {', '.join(sorted(conns.sources))}", file=sys.stderr)
        return 2
    if format is None and path.suffix.lower() == ".json":
        format = "shared-form"
    given = dict(json.loads(Path(args.options).read_text("utf-8"))) if args.options else None
    report = {"report_to": sys.stdout, "json_lines": args.json, "summary": args.summary}
    try:
        if not args.tenant:
            return dry_run.run(conns, path, format=format, options=lambda found: given or {}, **report)
        return _dry_run_with_tenant(args, conns, path, format, given, report)
    except BrokenPipeError:  # `bilagsbro dry-run … | head`: the reader has seen enough
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 1


def _dry_run_with_tenant(args: argparse.Namespace, conns: Any, path: Path, format: str | None,
                         given: dict[str, Any] | None, report: dict[str, Any]) -> int:
    """The dry run with the tenant's options, its accounting system's preflight and payloads, batch by batch."""
    from bilagsbro import dry_run

    def with_tenant(stores: Any) -> int:
        from pipeline.dry_run import tenant_check
        from pipeline.records.tenants import TenantRegistry
        from pipeline.translated import format_options

        tenant = TenantRegistry(stores.tables).get(args.tenant)
        options = (lambda found: given) if given is not None else (lambda found: format_options(tenant.sources, found))
        return dry_run.run(conns, path, format=format, options=options, check=tenant_check(stores, conns, tenant),
                           **report)

    return int(_with_stores(with_tenant))


def cmd_demo(args: argparse.Namespace) -> int:
    from bilagsbro.demo import run_demo

    return run_demo(port=args.port, target=args.target, subscriptions=args.subscriptions)


def main(argv: list[str] | None = None) -> int:
    from pipeline import redaction

    redaction.install()  # before anything logs: no secret in any log line, at any level
    import os

    if os.environ.get("BILAGSBRO_LOG_LEVEL"):  # e.g. DEBUG: every library's log on stderr, redacted alike
        import logging

        logging.basicConfig(level=os.environ["BILAGSBRO_LOG_LEVEL"].upper(), stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    removed = refused_argument(argv, secret_names() | {"password"})
    if removed:
        print(f"bilagsbro: {removed}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="bilagsbro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the local stack (starts Azurite when none is reachable)")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--host-json", type=Path, default=None,
                       help="another host.json (default: the project's), e.g. shorter polling for a test")
    serve.set_defaults(fn=cmd_serve)

    tenant = sub.add_parser("tenant", help="tenants and their API keys").add_subparsers(dest="action", required=True)
    add = tenant.add_parser("add", help="create a tenant; prints its id and API key (shown once)")
    add.add_argument("--name", required=True)
    add.add_argument("--org-number")
    add.set_defaults(fn=cmd_tenant_add)
    tenant.add_parser("list").set_defaults(fn=cmd_tenant_list)

    add_connect_parsers(sub)
    from bilagsbro.switch import add_switch_parsers

    add_switch_parsers(sub)

    fmt = sub.add_parser("format", help="a tenant's options for a file format (VAT map, accounts, ...)")
    fmt.add_argument("tenant")
    fmt.add_argument("format")
    fmt.add_argument("--options", required=True, help="a JSON file, e.g. {\"vat_map\": {\"3\": \"3\"}}")
    fmt.set_defaults(fn=cmd_format)

    pull = sub.add_parser("pull", help="pull a tenant's source now, as the timer does")
    pull.add_argument("tenant")
    pull.add_argument("source")
    pull.set_defaults(fn=cmd_pull)

    admin = sub.add_parser("admin-key", help="issue an admin API key (manages tenants over HTTP)")
    admin.set_defaults(fn=cmd_admin_key)

    add_export_parser(sub)
    from bilagsbro.workspace_cli import add_workspace_parsers

    add_workspace_parsers(sub)

    dry = sub.add_parser("dry-run", help="parse and check a file without delivering anything")
    dry.add_argument("file")
    dry.add_argument("--format", help="source format (shared-form, gbat10, ...); detected when omitted ('api' is an old "
                                          "name for shared-form, still accepted)")
    dry.add_argument("--tenant", help="also show the exact payloads for this tenant's accounting system")
    dry.add_argument("--options", help="a JSON file of format options (default: the tenant's, with --tenant)")
    dry.add_argument("--json", action="store_true", help="JSON lines: a document, problem or payload a line, "
                                                         "then the summary")
    dry.add_argument("--summary", action="store_true", help="only the problems, the counts and the totals per "
                                                            "account and VAT code")
    dry.set_defaults(fn=cmd_dry_run)

    key = sub.add_parser("key", help="a tenant's API keys: list, issue, revoke, rotate").add_subparsers(
        dest="action", required=True)
    for action, text in (("list", "keys by id and hint (never the key) with their state"),
                         ("issue", "another key (shown once)"), ("revoke", "stop a key at once"),
                         ("rotate", "a new key now; the old one works until the overlap ends")):
        command = key.add_parser(action, help=text)
        command.add_argument("tenant", nargs="?", help="the tenant (or --admin)")
        if action in ("revoke", "rotate"):
            command.add_argument("key_id", help="from `bilagsbro key list`")
        command.add_argument("--admin", action="store_true", help="the admin keys instead of a tenant's")
        if action in ("issue", "rotate"):
            command.add_argument("--label", help="what the key is for, e.g. the till system")
        if action == "rotate":
            command.add_argument("--overlap", default="24h", help="how long the old key keeps working: 24h, 90m, 2d, 0")
        command.set_defaults(fn=cmd_key)

    demo = sub.add_parser("demo", help="start the stack, create a demo tenant, send samples, show the trace")
    demo.add_argument("--port", type=int, default=0)
    demo.add_argument("--target", default="tripletex",
                      help="the accounting system whose sandbox the shop delivers to (sandboxes/registry.py)")
    demo.add_argument("--subscriptions", metavar="SYSTEM",
                      help="the accounting system the subscription business's events go to, when not the shop's "
                           "(e.g. fiken or visma-net: its sandbox is started too)")
    demo.set_defaults(fn=cmd_demo)

    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except Exception as exc:  # one clear line for operators; tracebacks only with BILAGSBRO_DEBUG
        import os

        if os.environ.get("BILAGSBRO_DEBUG"):
            raise
        print(f"bilagsbro: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
