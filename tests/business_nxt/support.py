"""What the Business NXT tests share: a transport that holds every GraphQL document and its variables against our
schema file before it leaves, and the sandbox fixtures' helpers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from graphql import GraphQLSchema, coerce_input_value, parse, validate
from graphql.language import ast
from graphql.utilities import type_from_ast


class SchemaCheckingTransport(httpx.BaseTransport):
    """Every GraphQL request validated against the schema (document and variable values) and every token request
    against Visma Connect's client-credentials form; what breaks them is kept in `violations`."""

    def __init__(self, schema: GraphQLSchema, inner: httpx.BaseTransport | None = None) -> None:
        self.schema = schema
        self.inner = inner or httpx.HTTPTransport()
        self.violations: list[str] = []
        self.documents: list[str] = []

    def check(self, request: httpx.Request) -> None:
        body = request.read()
        if request.url.path.endswith("/connect/token"):
            form = dict(x.split("=", 1) for x in body.decode().split("&"))
            if set(form) != {"grant_type", "client_id", "client_secret", "scope"}:
                self.violations.append(f"token request fields {sorted(form)}")
            return
        if request.method != "POST" or request.headers.get("content-type") != "application/json":
            self.violations.append(f"{request.method} {request.url.path} is not a GraphQL POST with JSON")
            return
        payload = json.loads(body, parse_float=Decimal)
        document = parse(payload["query"])
        self.documents.append(payload.get("operationName") or "")
        self.violations += [f"{payload.get('operationName')}: {e.message}" for e in validate(self.schema, document)]
        [operation] = [d for d in document.definitions if isinstance(d, ast.OperationDefinitionNode)]
        variables: dict[str, Any] = payload.get("variables") or {}
        for definition in operation.variable_definitions:
            name = definition.variable.name.value
            kind = type_from_ast(self.schema, definition.type)
            try:
                coerce_input_value(variables.get(name), kind)  # type: ignore[arg-type]
            except Exception as exc:  # graphql-core raises GraphQLError for a value the type refuses
                self.violations.append(f"{payload.get('operationName')}: ${name}: {exc}")
        unknown = set(variables) - {d.variable.name.value for d in operation.variable_definitions}
        if unknown:
            self.violations.append(f"{payload.get('operationName')}: undeclared variables {sorted(unknown)}")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.check(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
