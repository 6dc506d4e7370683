"""The official OpenAPI specs as checkers of the requests our connectors send, for every system that publishes one.

Every request a connector sends in tests can go through `SpecCheckingTransport`, which holds it against the
system's official spec in `../shared/specs/` (JSON or YAML, OpenAPI 3.0): the path and method exist; every path
parameter has the declared type; every query parameter is declared (path-level and `$ref` parameters included),
required ones are present, and each value fits its schema (type, enum, minimum/maximum, `format: date`); a JSON
body is sent with a JSON content type and validates against the operation's requestBody schema — `$ref`s
resolved, and, because these specs do not forbid extra properties, no property the schema does not name and
none it marks read-only. Requests the spec describes only in prose (an OAuth token endpoint) are checked by a
function the system's tests give (`prose`).

`load_spec_check(path)` reads a spec once per run. Where `../shared/specs` is absent it returns None and the
tests that need it skip, saying so — except in CI (`CI=true`), where a missing spec is a failure.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT.parent / "shared" / "specs"
SPEC_URI = "urn:bilagsbro:openapi"
INT64 = (-(2**63), 2**63 - 1)
Prose = Callable[[httpx.Request], list[str]]  # checks one request the spec describes only in words
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=("date",))

    @checker.checks("int64")
    def _int64(value: object) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or INT64[0] <= value <= INT64[1]

    return checker


FORMATS = _format_checker()


class SpecCheck:
    """An OpenAPI spec as a checker of requests: `violations(request)` lists what breaks it."""

    def __init__(self, spec: dict[str, Any], *, prose: Mapping[str, Prose] | None = None) -> None:
        self.spec = spec
        self.base = urlpath(spec["servers"][0]["url"])  # "/v2", "/api/v2"
        self.prose = dict(prose or {})  # "POST /oauth/token" → its check
        self.routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec["paths"]:
            pattern = re.sub(r"\\\{([^}]+)\\\}", lambda m: f"(?P<{_group(m.group(1))}>[^/]+)", re.escape(template))
            self.routes.append((re.compile(f"^{pattern}$"), template))
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))
        self.checked = 0

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            found: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                found = found[part]
            node = found
        return node

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]] | None:
        """(template, operation, path parameters): a literal path wins over a template."""
        found = [(t, m) for pattern, t in self.routes if (m := pattern.match(path))]
        found.sort(key=lambda pair: pair[0].count("{"))
        for template, match in found:
            operation = self.spec["paths"][template].get(method.lower())
            if operation is not None:
                names = re.findall(r"\{([^}]+)\}", template)
                return template, operation, {n: match.group(_group(n)) for n in names}
        return None

    def parameters(self, template: str, operation: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        """(in, name) → parameter, the path item's and the operation's (which overrides), `$ref`s resolved."""
        declared: dict[tuple[str, str], dict[str, Any]] = {}
        for item in (*self.spec["paths"][template].get("parameters", ()), *operation.get("parameters", ())):
            param = self.resolve(item)
            declared[(param["in"], param["name"])] = param
        return declared

    def violations(self, request: httpx.Request) -> list[str]:
        self.checked += 1
        path = request.url.path
        where = f"{request.method} {path}"
        if f"{request.method} {path}" in self.prose:
            return self.prose[f"{request.method} {path}"](request)
        if not path.startswith(self.base + "/"):
            return [f"{where}: not under the spec's server path {self.base}"]
        found = self.operation(request.method, path[len(self.base):])
        if found is None:
            return [f"{where}: no such operation in the spec"]
        template, operation, path_values = found
        declared = self.parameters(template, operation)
        problems: list[str] = []
        for name, value in path_values.items():
            param = declared.get(("path", name))
            if param is None:
                problems.append(f"{where}: path parameter {name!r} is not declared for {template}")
            else:
                problems.extend(self._value(where, f"path parameter {name}", value, param))
        sent = dict(httpx.QueryParams(request.url.query))
        query = {name: p for (place, name), p in declared.items() if place == "query"}
        for name, value in sent.items():
            if name not in query:
                problems.append(f"{where}: query parameter {name!r} is not declared for {template}")
            else:
                problems.extend(self._value(where, name, value, query[name]))
        problems.extend(f"{where}: required query parameter {name!r} missing"
                        for name, p in query.items() if p.get("required") and name not in sent)
        problems.extend(self._body(where, request, operation))
        return problems

    def _value(self, where: str, name: str, text: str, param: Mapping[str, Any]) -> list[str]:
        """A query or path value against its schema, read as the schema's type says."""
        schema = self.resolve(param.get("schema") or {})
        kind = schema.get("type")
        value: Any = text
        if kind == "integer":
            if not re.fullmatch(r"-?\d+", text):
                return [f"{where}: {name}={text!r} is not an integer"]
            value = int(text)
        elif kind == "number":
            try:
                value = Decimal(text)
            except ArithmeticError:
                return [f"{where}: {name}={text!r} is not a number"]
            value = float(value) if value != int(value) else int(value)
        elif kind == "boolean":
            if text not in ("true", "false"):
                return [f"{where}: {name}={text!r} is not a boolean"]
            value = text == "true"
        if schema.get("format") == "date" and not _DATE.match(text):
            return [f"{where}: {name}={text!r} is not a date (yyyy-MM-dd)"]
        validator = jsonschema.Draft4Validator(schema, registry=self.registry, format_checker=FORMATS)
        return [f"{where}: {name}={text!r}: {e.message}" for e in validator.iter_errors(value)]

    def _body(self, where: str, request: httpx.Request, operation: Mapping[str, Any]) -> list[str]:
        body = request.content
        if "requestBody" not in operation:
            return [f"{where}: the spec takes no body here"] if body else []
        content = self.resolve(operation["requestBody"]).get("content", {})
        schema = next((c["schema"] for t, c in content.items() if "json" in t and "schema" in c), None)
        if not body:
            return [f"{where}: the spec requires a body"] if operation["requestBody"].get("required") else []
        if schema is None:
            return [f"{where}: the spec takes no JSON body here (it takes {', '.join(content) or 'nothing'})"]
        problems = []
        if "json" not in request.headers.get("content-type", ""):
            problems.append(f"{where}: a JSON body sent as {request.headers.get('content-type')!r}")
        instance = json.loads(body, parse_float=Decimal)
        validator = jsonschema.Draft4Validator({"$ref": SPEC_URI + schema["$ref"]} if "$ref" in schema else schema,
                                               registry=self.registry, format_checker=FORMATS)
        problems.extend(f"{where}: body{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
                        for e in validator.iter_errors(instance))
        problems.extend(f"{where}: body{p}" for p in self.strict(instance, schema, ""))
        return problems

    def strict(self, instance: Any, schema: dict[str, Any], at: str) -> list[str]:
        """Properties the schema does not name, or marks readOnly: the system ignores or refuses them."""
        schema = self.resolve(schema)
        out: list[str] = []
        if isinstance(instance, dict) and "properties" in schema:
            for key, value in instance.items():
                prop = schema["properties"].get(key)
                if prop is None and key in schema.get("required", ()):
                    continue  # required by the schema though its properties omit it (Fiken's saleRequest.paid)
                if prop is None:
                    out.append(f"{at}.{key}: not a property of the schema (invented field)")
                    continue
                if self.resolve(prop).get("readOnly") or prop.get("readOnly"):
                    out.append(f"{at}.{key}: read-only in the spec")
                out.extend(self.strict(value, prop, f"{at}.{key}"))
        elif isinstance(instance, list) and "items" in schema:
            for i, item in enumerate(instance):
                out.extend(self.strict(item, schema["items"], f"{at}[{i}]"))
        return out


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def urlpath(url: str) -> str:
    return httpx.URL(url).path.rstrip("/")


def spec_file(relative: str) -> Path:
    return SPECS / relative


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loaded: dict[str, Any] = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
        return loaded
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def load_spec_check(relative: str, *, prose: Mapping[str, Prose] | None = None) -> SpecCheck | None:
    """The spec at `../shared/specs/<relative>` as a request checker (made once per run); None when the folder
    is absent — a failure instead in CI (`CI=true`), where the specs must be present."""
    path = spec_file(relative)
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            raise FileNotFoundError(f"{path} is missing: CI must check requests against the official spec")
        return None
    return _check(path, tuple(sorted((prose or {}).items())))


@functools.cache
def _check(path: Path, prose: tuple[tuple[str, Prose], ...]) -> SpecCheck:
    return SpecCheck(_load(path), prose=dict(prose))


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
