"""An official OpenAPI spec as a checker of the requests a connector sends, for every system that publishes one.

`SpecCheckingTransport(load(path))` sits under a connector's HTTP client in tests and holds every request against
the spec (kept in `../shared/specs/`, never copied into the project): the path and method exist, every query
parameter is declared (required ones present, values of the declared type and enum), and the JSON body validates
against the operation's requestBody schema — with `$ref`s resolved, and, because these specs seldom forbid extra
properties, no property the schema does not name and none it marks read-only. A request to the token URL of a
`clientCredentials` flow the spec declares is held to OAuth 2.0's client-credentials grant (RFC 6749 §4.4)
instead: the token endpoint is no path of the API.

Used by the Tripletex tests (`tests/tripletex/tripletex_support.py`) and the Visma.net tests.
"""

from __future__ import annotations

import functools
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"


def urlpath(url: str) -> str:
    return httpx.URL(url).path.rstrip("/")


class SpecCheck:
    """The official spec as a checker of requests: `violations(request)` lists what breaks it."""

    def __init__(self, spec: dict[str, Any], *, uri: str = "urn:openapi") -> None:
        self.spec = spec
        self.uri = uri
        self.base = urlpath(spec["servers"][0]["url"])  # "/v2" (Tripletex), "" (Visma.net)
        self.routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec["paths"]:
            pattern = re.escape(template)
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
            self.routes.append((re.compile(f"^{pattern}$"), template))
        self.token_paths = {urlpath(flow["tokenUrl"])
                            for scheme in spec.get("components", {}).get("securitySchemes", {}).values()
                            for name, flow in (scheme.get("flows") or {}).items() if name == "clientCredentials"}
        self.registry = Registry().with_resource(uri, Resource.from_contents(spec, default_specification=DRAFT4))
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
        if path.rstrip("/") in self.token_paths:
            return self.token_request(request, where)
        if not path.startswith(self.base + "/"):
            return [f"{where}: not under the spec's server path {self.base}"]
        found = self.operation(request.method, path[len(self.base):])
        if found is None:
            return [f"{where}: no such operation in the spec"]
        template, operation = found
        problems = self.query(request, operation, where, template)
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
                validator = jsonschema.Draft4Validator({"$ref": self.uri + schema["$ref"]}
                                                       if "$ref" in schema else schema, registry=self.registry)
                problems.extend(f"{where}: body{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
                                for e in validator.iter_errors(instance))
                problems.extend(f"{where}: body{p}" for p in self.strict(instance, schema, ""))
        elif body:
            problems.append(f"{where}: the spec takes no body here")
        return problems

    def query(self, request: httpx.Request, operation: dict[str, Any], where: str, template: str) -> list[str]:
        problems: list[str] = []
        declared = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
        sent = dict(httpx.QueryParams(request.url.query))
        for name, value in sent.items():
            if name not in declared:
                problems.append(f"{where}: query parameter {name!r} is not declared for {template}")
                continue
            schema = declared[name].get("schema", {})
            kind = schema.get("type")
            if kind == "boolean" and value not in ("true", "false"):
                problems.append(f"{where}: {name}={value!r} is not a boolean")
            if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                problems.append(f"{where}: {name}={value!r} is not an integer")
            if "enum" in schema and value not in schema["enum"]:
                problems.append(f"{where}: {name}={value!r} is not one of {schema['enum']}")
        for name, param in declared.items():
            if param.get("required") and name not in sent:
                problems.append(f"{where}: required query parameter {name!r} missing")
        return problems

    def token_request(self, request: httpx.Request, where: str) -> list[str]:
        """RFC 6749 §4.4.2: a form POST with grant_type=client_credentials (and §2.3.1 client authentication)."""
        problems: list[str] = []
        if request.method != "POST":
            problems.append(f"{where}: a token request is a POST")
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            problems.append(f"{where}: a token request is form-encoded")
        form = dict(parse_qsl(request.content.decode("utf-8"), keep_blank_values=True))
        if form.get("grant_type") != "client_credentials":
            problems.append(f"{where}: grant_type must be client_credentials")
        if not (form.get("client_id") or request.headers.get("authorization", "").startswith("Basic ")):
            problems.append(f"{where}: the client authenticates with client_id/client_secret or HTTP Basic")
        return problems

    def strict(self, instance: Any, schema: dict[str, Any], at: str) -> list[str]:
        """Properties the schema does not name, or marks readOnly: the system ignores or refuses them."""
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


@functools.cache
def load(relative: str, uri: str = "urn:openapi") -> SpecCheck | None:
    """The spec at `../shared/specs/<relative>`, loaded once per test run; None when that folder is absent."""
    path = SPECS / relative
    if not path.exists():
        return None
    return SpecCheck(json.loads(path.read_text(encoding="utf-8")), uri=uri)


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
