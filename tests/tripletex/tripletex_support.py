"""Test support for Tripletex: the official OpenAPI spec as a request checker, and a connector wired to a sandbox.

Every request the connector sends goes through `SpecCheckingTransport`, which holds it against the
official spec (`../shared/specs/tripletex/openapi.json`): the path and method exist, every query
parameter is declared (required ones present, values of the declared type), and the JSON body validates
against the operation's requestBody schema — with `$ref`s resolved, and, because Tripletex's schemas
do not forbid extra properties, no property the schema does not name and none it marks read-only.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from connectors.targets import tripletex
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.ports import TargetContext
from sandboxes.tripletex import TripletexSandbox

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "specs" / "tripletex" / "openapi.json"
SPEC_URI = "urn:tripletex:openapi"


class SpecCheck:
    """The official spec as a checker of requests: `violations(request)` lists what breaks it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.base = urlpath(spec["servers"][0]["url"])  # "/v2"
        self.routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec["paths"]:
            pattern = re.escape(template)
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
            self.routes.append((re.compile(f"^{pattern}$"), template))
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))
        self.checked = 0

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            pointer = schema["$ref"].removeprefix("#/").split("/")
            node: Any = self.spec
            for part in pointer:
                node = node[part]
            schema = node
        return schema

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        # A literal path wins over a template (/ledger/voucher/>nonPosted over /ledger/voucher/{id}).
        matches = [t for pattern, t in self.routes if pattern.match(path)]
        matches.sort(key=lambda t: t.count("{"))
        for template in matches:
            operation = self.spec["paths"][template].get(method.lower())
            if operation is not None:
                return template, operation
        return None

    def violations(self, request: httpx.Request) -> list[str]:
        self.checked += 1
        path = request.url.path
        where = f"{request.method} {path}"
        if not path.startswith(self.base + "/"):
            return [f"{where}: not under the spec's server path {self.base}"]
        found = self.operation(request.method, path[len(self.base):])
        if found is None:
            return [f"{where}: no such operation in the spec"]
        template, operation = found
        problems: list[str] = []
        declared = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
        sent = dict(httpx.QueryParams(request.url.query))
        for name, value in sent.items():
            if name not in declared:
                problems.append(f"{where}: query parameter {name!r} is not declared for {template}")
                continue
            kind = declared[name].get("schema", {}).get("type")
            if kind == "boolean" and value not in ("true", "false"):
                problems.append(f"{where}: {name}={value!r} is not a boolean")
            if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                problems.append(f"{where}: {name}={value!r} is not an integer")
        for name, param in declared.items():
            if param.get("required") and name not in sent:
                problems.append(f"{where}: required query parameter {name!r} missing")
        body = request.content
        if "requestBody" in operation:
            content = operation["requestBody"].get("content", {})
            schema = next((c["schema"] for t, c in content.items() if "json" in t and "schema" in c), None)
            if schema is None:
                problems.append(f"{where}: the spec takes no JSON body here")
            elif not body:
                if operation["requestBody"].get("required"):
                    problems.append(f"{where}: the spec requires a body")
            else:
                instance = json.loads(body, parse_float=Decimal)
                validator = jsonschema.Draft4Validator({"$ref": SPEC_URI + schema["$ref"]}
                                                       if "$ref" in schema else schema, registry=self.registry)
                problems.extend(f"{where}: body{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
                                for e in validator.iter_errors(instance))
                problems.extend(f"{where}: body{p}" for p in self.strict(instance, schema, ""))
        elif body:
            problems.append(f"{where}: the spec takes no body here")
        return problems

    def strict(self, instance: Any, schema: dict[str, Any], at: str) -> list[str]:
        """Properties the schema does not name, or marks readOnly: Tripletex ignores or refuses them."""
        schema = self.resolve(schema)
        out: list[str] = []
        if isinstance(instance, dict) and "properties" in schema:
            for key, value in instance.items():
                prop = schema["properties"].get(key)
                if prop is None:
                    out.append(f"{at}.{key}: not a property of the schema (invented field)")
                    continue
                if prop.get("readOnly"):
                    out.append(f"{at}.{key}: read-only in the spec")
                out.extend(self.strict(value, prop, f"{at}.{key}"))
        elif isinstance(instance, list) and "items" in schema:
            for i, item in enumerate(instance):
                out.extend(self.strict(item, schema["items"], f"{at}[{i}]"))
        return out


def urlpath(url: str) -> str:
    return httpx.URL(url).path.rstrip("/")


@functools.cache
def load_spec_check() -> SpecCheck | None:
    """Loaded once per test run (2 MB of JSON); None when ../shared/specs is absent."""
    if not SPEC.exists():
        return None
    return SpecCheck(json.loads(SPEC.read_text(encoding="utf-8")))


class SpecCheckingTransport(httpx.BaseTransport):
    """Checks each request against the spec before sending it on; collects what breaks it."""

    def __init__(self, check: SpecCheck | None, inner: httpx.BaseTransport | None = None) -> None:
        self.check = check
        self.inner = inner or httpx.HTTPTransport()
        self.violations: list[str] = []
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent += 1
        if self.check is not None:
            self.violations.extend(self.check.violations(request))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Harness:
    """A Tripletex target wired to a running sandbox, with what a test looks at."""

    sandbox: TripletexSandbox
    context: TargetContext
    transport: SpecCheckingTransport
    waits: list[float] = field(default_factory=list)

    def target(self, **settings: Any) -> tripletex.TripletexTarget:
        context = self.context
        if settings:
            context = TargetContext(tenant=context.tenant, settings={**context.settings, **settings},
                                    secrets=context.secrets, blobs=context.blobs, exchanges=context.exchanges,
                                    cache=context.cache, tables=context.tables)
        return tripletex.TripletexTarget(context, transport=self.transport, sleep=self.waits.append)

    def close(self) -> None:
        tripletex.close(self.context)

    @property
    def exchanges(self) -> MemoryExchanges:
        assert isinstance(self.context.exchanges, MemoryExchanges)
        return self.context.exchanges


def harness(sandbox: TripletexSandbox, check: SpecCheck | None, *, tenant: str = "kunde-1",
            timeout: float = 5.0, **settings: Any) -> Harness:
    secrets = MemorySecrets({"tripletex-consumer": sandbox.consumer_token,
                             "tripletex-employee": sandbox.employee_token})
    context = TargetContext(
        tenant=tenant,
        settings={"base_url": sandbox.base_url, "timeout": timeout,
                  "secrets": {"consumer_token": "tripletex-consumer", "employee_token": "tripletex-employee"},
                  **settings},
        secrets=secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), tables=MemoryTables(),
    )
    return Harness(sandbox, context, SpecCheckingTransport(check))
