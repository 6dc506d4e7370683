"""`bilagsbro workspace …`: organisations, their clients, users and roles, and one-time reset links, from the shell.

Passwords come by file, environment variable or a prompt without echo (bilagsbro/secret_input.py), never as an
argument; a user added without one gets a reset link to set it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bilagsbro.secret_input import add_secret_options, read_secret

DEFAULT_BASE = "http://127.0.0.1:7071"


def _stores(fn: Any) -> Any:
    from bilagsbro.cli import _with_stores

    return _with_stores(fn)


def _print(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def cmd_org_add(args: argparse.Namespace) -> int:
    from workspace.identity import Directory

    org = _stores(lambda s: Directory(s.tables).add_organisation(
        args.name, require_totp_for_owners=args.require_totp_for_owners, entra_tenant_id=args.entra_tenant or ""))
    _print({"org_id": org.id, "name": org.name, "require_totp_for_owners": org.require_totp_for_owners,
            "entra_tenant_id": org.entra_tenant_id})
    return 0


def cmd_client_add(args: argparse.Namespace) -> int:
    from pipeline.records.tenants import TenantRegistry
    from workspace.identity import Directory

    def attach(stores: Any) -> None:
        TenantRegistry(stores.tables).get(args.tenant)  # the tenant must exist
        Directory(stores.tables).attach_client(args.org, args.tenant)

    _stores(attach)
    _print({"org_id": args.org, "client": args.tenant})
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from workspace.identity import Directory
    from workspace.pages_session import reset_link

    password = read_secret(args, "password", "password")

    def add(stores: Any) -> dict[str, Any]:
        user = Directory(stores.tables).add_user(args.org, args.email, name=args.name or "", password=password,
                                                 org_owner=args.org_owner)
        answer: dict[str, Any] = {"email": user.email, "org_id": user.org, "org_owner": user.org_owner}
        if not password:
            answer["reset_link"] = reset_link(stores.tables, user.email, args.base_url)
        return answer

    _print(_stores(add))
    return 0


def cmd_role(args: argparse.Namespace) -> int:
    from workspace import audit
    from workspace.identity import Directory

    role = None if args.role == "none" else args.role

    def grant(stores: Any) -> dict[str, Any]:
        user = Directory(stores.tables).set_role(args.email, args.client, role)
        audit.record(stores.tables, user.org, who="operator (bilagsbro workspace role)", action="role changed",
                     client=args.client, subject=user.email, detail={"after": role})
        return {"email": user.email, "roles": dict(user.roles)}

    _print(_stores(grant))
    return 0


def cmd_reset_link(args: argparse.Namespace) -> int:
    from workspace.pages_session import reset_link

    print(_stores(lambda s: reset_link(s.tables, args.email, args.base_url)))
    return 0


def add_workspace_parsers(sub: Any) -> None:
    workspace = sub.add_parser("workspace", help="the bookkeepers' workspace: organisations, clients, users, roles")
    actions = workspace.add_subparsers(dest="action", required=True)
    org = actions.add_parser("org-add", help="a new organisation (an accounting firm or a company); prints its id")
    org.add_argument("--name", required=True)
    org.add_argument("--require-totp-for-owners", action="store_true", help="owners must sign in with two-factor")
    org.add_argument("--entra-tenant", help="the Microsoft Entra tenant id whose users may sign in through App "
                                            "Service authentication (docs/workspace.md)")
    org.set_defaults(fn=cmd_org_add)
    client = actions.add_parser("client-add", help="the organisation owns this tenant from now on")
    client.add_argument("org")
    client.add_argument("tenant")
    client.set_defaults(fn=cmd_client_add)
    user = actions.add_parser("user-add", help="a user of the organisation; without a password, prints a reset link")
    user.add_argument("org")
    user.add_argument("email")
    user.add_argument("--name")
    user.add_argument("--org-owner", action="store_true", help="manages users and reads the audit log")
    user.add_argument("--base-url", default=DEFAULT_BASE, help="where the workspace is served (for the link)")
    add_secret_options(user, "password", "password")
    user.set_defaults(fn=cmd_user_add)
    role = actions.add_parser("role", help="a user's role on a client: owner, accountant, viewer or none")
    role.add_argument("email")
    role.add_argument("client")
    role.add_argument("role", choices=("owner", "accountant", "viewer", "none"))
    role.set_defaults(fn=cmd_role)
    reset = actions.add_parser("reset-link", help="print a one-time link to set a user's password (30 minutes)")
    reset.add_argument("email")
    reset.add_argument("--base-url", default=DEFAULT_BASE, help="where the workspace is served")
    reset.set_defaults(fn=cmd_reset_link)
