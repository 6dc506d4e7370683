"""A small world for the workspace's unit tests: two organisations, their clients, users in every role, a delivered
document — on the in-memory ports — and a browser-like client that keeps the session cookie and the CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import connectors
from api.http import Request, Response
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.apikeys import ApiKeys
from pipeline.records.tenants import TenantRegistry
from pipeline.registry import Connectors
from pipeline.rule_versions import save as save_rules
from pipeline.rules import Rules
from tests.unit.test_history import post as history_post
from tests.unit.test_history import voucher
from tests.unit.test_problem_groups import STATE, Regnskap
from tests.unit.test_resend import post
from workspace.identity import Directory
from workspace.router import handle
from workspace.sessions import COOKIE, read_cookie

PASSWORD = "riktig hest batteri stift"


@dataclass
class Browser:
    """Requests as a browser sends them: the cookie it was given, the CSRF token of the last page it saw."""

    stores: Stores
    conns: Any
    cookie: str = ""
    csrf: str = ""
    address: str = "192.0.2.10"
    last: Response | None = None

    def request(self, method: str, path: str, form: dict[str, str] | None = None, *, query: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, csrf: bool = True,
                files: dict[str, tuple[str, bytes]] | None = None) -> Response:
        body = b""
        content_type = "application/x-www-form-urlencoded"
        if method != "GET":
            given = {**({"csrf": self.csrf} if csrf else {}), **(form or {})}
            body = urlencode(given).encode("utf-8")
            if files is not None:  # as a browser sends a form with a file input (RFC 7578; the name as UTF-8)
                content_type, body = multipart(given, files)
        cookies = "; ".join(c for c in (f"{COOKIE}={self.cookie}" if self.cookie else "",) if c)
        request = Request(method, {"path": path}, query or {},
                          {"cookie": cookies, "content-type": content_type,
                           "x-forwarded-for": self.address, **(headers or {})}, body, "http://workspace.test")
        answer = handle(self.stores, self.conns, request)
        set_cookie = answer.headers.get("Set-Cookie", "")
        if set_cookie.startswith(COOKIE + "="):
            self.cookie = read_cookie(set_cookie)
        found = re.search(r'name="csrf" value="([^"]+)"', answer.encoded().decode("utf-8", "replace"))
        if found:
            self.csrf = found.group(1)
        self.last = answer
        return answer

    def get(self, path: str, **query: str) -> Response:
        return self.request("GET", path, query=query)

    def post(self, path: str, form: dict[str, str] | None = None, **kwargs: Any) -> Response:
        return self.request("POST", path, form, **kwargs)

    def sign_in(self, email: str, password: str = PASSWORD) -> Response:
        self.get("login")
        return self.post("login", {"email": email, "password": password})

    def follow(self, answer: Response) -> Response:
        location = urlsplit(answer.headers["Location"])
        return self.get(location.path.removeprefix("/api/app/").removeprefix("/api/app"),
                        **dict(part.split("=", 1) for part in location.query.split("&") if part))


def multipart(form: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[str, bytes]:
    """A multipart/form-data body as Chromium sends it: text fields, then each file with its name and bytes."""
    boundary = "----WebKitFormBoundaryBilagsbroTest7"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in form.items()]
    for field_name, (file_name, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
                     f'filename="{file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                     + data + b"\r\n")
    return f"multipart/form-data; boundary={boundary}", b"".join(parts) + f"--{boundary}--\r\n".encode()


@dataclass
class World:
    stores: Stores
    conns: Any
    org_a: str
    org_b: str
    a1: str  # clients of A
    a2: str
    b1: str  # client of B
    document: str  # a delivered document of a1
    pending: str  # one of a1 not delivered (translated, its queue message never sent on)
    key: str  # an API key id of a1
    cause: str = ""  # the cause of a1's blocked document (account 3999 unknown to the accounting system it met)
    users: dict[str, str] = field(default_factory=dict)  # persona → e-mail
    secrets_of_a: tuple[str, ...] = ()  # text that must never show to anyone outside A1's people

    cookies: dict[str, str] = field(default_factory=dict)  # persona → its session, signed in once (argon2id is slow)

    def browser(self, persona: str | None = None) -> Browser:
        browser = Browser(self.stores, self.conns)
        if persona is not None and persona in self.cookies:
            browser.cookie = self.cookies[persona]
            if browser.get("clients").status == 200:  # for the CSRF token, as a page the user had open
                return browser
            browser = Browser(self.stores, self.conns)  # signed out meanwhile (a test of POST logout)
        if persona is not None:
            answer = browser.sign_in(self.users[persona])
            assert answer.status == 303 and answer.headers["Location"].endswith("/clients"), answer.encoded()[:500]
            self.cookies[persona] = browser.cookie
            browser.get("clients")
        return browser


def world() -> World:
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    conns = Connectors(targets={**connectors.TARGETS, "regnskap": Regnskap}, sources=connectors.SOURCES,
                       sniffers=connectors.SNIFFERS, descriptors=connectors.CONNECTORS)
    registry = TenantRegistry(stores.tables)
    directory = Directory(stores.tables)
    a1 = registry.add("Fjellbakeriet på Røros AS", organization_number="974760673")
    a2 = registry.add("Sjøbua i Å AS")
    b1 = registry.add("Konkurrenten Østfold AS")
    registry.save(a1.model_copy(update={"target_settings": {"direct_posting": False},  # connected to the file target
                                        "connections": {"visma-business-file": {  # and a further one, kept read-only
                                            "settings": {}, "mode": "read-only", "since": "2026-11-01T08:00:00+00:00"}}}))
    key = registry.issue_key(a1.id)
    [document] = post(stores, conns, key, [voucher("HEMMELIG-ØRE-1")])
    waiting = history_post(stores, conns, key, [voucher("VENTER-ÆØÅ-2")], deliver=False)  # translated, not delivered
    [pending] = [d["id"] for d in waiting.body["documents"]]
    # A voucher blocked by an accounting system that lacks account 3999 (a1 on it for that one voucher), and a
    # version of a1's rules, so that the Problems and Rules pages have something of a1's to show and to change.
    STATE.update(refuse=False, accounts={"1920", "3000", "1500"}, posted=[])
    connected = registry.get(a1.id)
    registry.save(connected.model_copy(update={"target": "regnskap"}))
    post(stores, conns, key, [voucher("STOPPET-ÆØÅ-3", account="3999")])
    registry.save(connected)
    save_rules(stores.tables, a1.id, Rules(account_map={"3001": "3000"}), based_on=None, by="test",
               reason="Hemmelig regel: salg på 3001 føres på 3000")
    key_id = ApiKeys(stores.tables).owned_by(a1.id)[0].key_id
    org_a = directory.add_organisation("Regnskap Ærlig AS")
    org_b = directory.add_organisation("Andre Tall AS")
    for org, tenant in ((org_a, a1), (org_a, a2), (org_b, b1)):
        directory.attach_client(org.id, tenant.id)
    users = {"owner": "eier@aerlig.example", "accountant": "regnskap@aerlig.example",
             "viewer": "leser@aerlig.example", "no_role": "annen@aerlig.example", "other_org": "eier@andre.example"}
    directory.add_user(org_a.id, users["owner"], name="Åse Eier", password=PASSWORD, org_owner=True)
    for persona in ("accountant", "viewer", "no_role"):
        directory.add_user(org_a.id, users[persona], name=persona, password=PASSWORD)
    directory.set_role(users["accountant"], a1.id, "accountant")
    directory.set_role(users["viewer"], a1.id, "viewer")
    directory.set_role(users["no_role"], a2.id, "owner")  # a role on A's other client, none on a1
    directory.add_user(org_b.id, users["other_org"], name="Bjørn Annen", password=PASSWORD, org_owner=True)
    directory.set_role(users["other_org"], b1.id, "owner")
    return World(stores, conns, org_a.id, org_b.id, a1.id, a2.id, b1.id, document, pending, key_id,
                 "regnskap.missing-account.3999", users,
                 ("Fjellbakeriet", "974760673", "HEMMELIG-ØRE-1", "VENTER-ÆØÅ-2", "STOPPET-ÆØÅ-3", "Hemmelig regel", document,
                  pending, key_id))
