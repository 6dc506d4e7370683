"""The Business NXT sandbox's GraphQL: our schema file (schema.graphql) executed by graphql-core over the companies
of company.py. Every query is validated against the schema before it runs; answers and errors take GraphQL's shape
(`data`, `errors` with message, locations, path, extensions), as Business NXT's do.

Tables are connections (`totalCount`, `pageInfo`, `items`; `first`/`after` paging) filtered with Business NXT's
operators (`_eq`, `_not_eq`, `_in`, `_gt`, `_gte`, `_lt`, `_lte`, `_like`, `_and`, `_or`).
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema, parse, validate
from graphql.execution import execute_sync
from graphql.language import ast

from sandboxes.business_nxt.company import Company, Refused

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):  # never through binary floating point
        raise GraphQLError(f"Decimal cannot represent {value!r} exactly")
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise GraphQLError(f"Decimal cannot represent {value!r}") from None


def _decimal_literal(node: ast.ValueNode, _variables: Any = None) -> Decimal:
    if isinstance(node, (ast.IntValueNode, ast.FloatValueNode)):
        return Decimal(node.value)
    raise GraphQLError("Decimal takes a number")


def load_schema() -> GraphQLSchema:
    schema = build_schema(SCHEMA_FILE.read_text("utf-8"))
    scalar: Any = schema.type_map["Decimal"]
    scalar.serialize, scalar.parse_value, scalar.parse_literal = _decimal, _decimal, _decimal_literal
    return schema


# GraphQL.NET's codes for what graphql-core reports (Business NXT runs GraphQL.NET: "GraphQL.Validation.Errors…").
_CODES = ((r"^Cannot query field", "FIELDS_ON_CORRECT_TYPE"), (r"^Unknown argument", "KNOWN_ARGUMENT_NAMES"),
          (r"^Unknown type", "KNOWN_TYPE_NAMES"), (r"required, but it was not provided", "PROVIDED_REQUIRED_ARGUMENTS"),
          (r"^Variable .* used in position", "VARIABLES_IN_ALLOWED_POSITION"),
          (r"^Variable .* is never used", "NO_UNUSED_VARIABLES"), (r"is not defined", "NO_UNDEFINED_VARIABLES"),
          (r"must have a selection|must not have a selection", "SCALAR_LEAFS"))


def validation_code(message: str) -> str:
    return next((code for pattern, code in _CODES if re.search(pattern, message)), "GRAPHQL_VALIDATION_FAILED")


# -- filters and connections --------------------------------------------------------------------------------

def _like(pattern: str, value: Any) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    return value is not None and re.match(regex, str(value), re.DOTALL) is not None


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "_eq": lambda v, x: v == x, "_not_eq": lambda v, x: v != x, "_in": lambda v, x: v in (x or ()),
    "_gt": lambda v, x: v is not None and v > x, "_gte": lambda v, x: v is not None and v >= x,
    "_lt": lambda v, x: v is not None and v < x, "_lte": lambda v, x: v is not None and v <= x,
    "_like": lambda v, x: _like(x, v),
}


def matches(row: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    for key, condition in (where or {}).items():
        if key == "_and" and not all(matches(row, c) for c in condition or ()):
            return False
        if key == "_or" and condition and not any(matches(row, c) for c in condition):
            return False
        if not key.startswith("_"):
            for op, operand in (condition or {}).items():
                if operand is not None and not _OPS[op](row.get(key), operand):
                    return False
    return True


def connection(rows: Iterable[Mapping[str, Any]], filter: Mapping[str, Any] | None = None, first: int | None = None,
               after: str | None = None, **_: Any) -> dict[str, Any]:
    found = [dict(r) for r in rows if matches(r, filter)]
    start = int(base64.b64decode(after).decode()) + 1 if after else 0
    end = len(found) if first is None else min(len(found), start + max(0, first))
    def cursor(i: int) -> str:
        return base64.b64encode(str(i).encode()).decode()

    return {"totalCount": len(found), "items": found[start:end],
            "pageInfo": {"hasNextPage": end < len(found), "hasPreviousPage": start > 0,
                         "startCursor": cursor(start) if end > start else None,
                         "endCursor": cursor(end - 1) if end > start else None}}


# -- resolvers ----------------------------------------------------------------------------------------------

def _batch(batch: Mapping[str, Any]) -> dict[str, Any]:
    """A batch as GraphQL reads it, with its rows joined down (Business NXT's `joindown_Voucher_via_Batch`)."""
    return {**batch, "joindown_Voucher_via_Batch": lambda _info, **args: connection(batch["vouchers"], **args)}


class CompanyQuery:
    def __init__(self, company: Company) -> None:
        self.c = company

    def generalLedgerAccount(self, _info: Any, **args: Any) -> dict[str, Any]:  # noqa: N802
        return connection([self.c.accounts[k] for k in sorted(self.c.accounts)], **args)  # by primary key

    def taxCode(self, _info: Any, **args: Any) -> dict[str, Any]:  # noqa: N802
        return connection([self.c.tax_codes[k] for k in sorted(self.c.tax_codes)], **args)

    def associate(self, _info: Any, **args: Any) -> dict[str, Any]:
        return connection(self.c.associates, **args)

    def voucherSeries(self, _info: Any, **args: Any) -> dict[str, Any]:  # noqa: N802
        return connection(self.c.series.values(), **args)

    def companyInformation(self, _info: Any, **args: Any) -> dict[str, Any]:  # noqa: N802
        return connection([self.c.information()], first=args.get("first"))

    def batch(self, _info: Any, **args: Any) -> dict[str, Any]:
        result = connection(self.c.batches.values(), **args)
        result["items"] = [_batch(b) for b in result["items"]]
        return result

    def voucher(self, _info: Any, **args: Any) -> dict[str, Any]:
        return connection(self.c.unposted(), **args)

    def updatedVoucher(self, _info: Any, **args: Any) -> dict[str, Any]:  # noqa: N802
        return connection(self.c.updated, **args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("orgUnit") and name[7:].isdigit():
            units = self.c.org_units[int(name[7:])]
            return lambda _info, **args: connection(units.values(), **args)
        raise AttributeError(name)


class CompanyMutation:
    def __init__(self, company: Company) -> None:
        self.c = company

    def batch_create(self, _info: Any, values: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            made = self.c.create_batches(values)
        except Refused as exc:
            raise GraphQLError(str(exc), extensions=exc.extensions) from None
        return {"affectedRows": len(made), "items": [_batch(b) for b in made]}

    def batch_processings(self, _info: Any) -> dict[str, Any]:
        def update(_info: Any, filter: Mapping[str, Any] | None = None) -> dict[str, Any]:
            numbers = [b["batchNo"] for b in list(self.c.batches.values()) if matches(b, filter)]
            try:
                done = [self.c.update_batch(n) for n in numbers]
            except Refused as exc:
                raise GraphQLError(str(exc), extensions=exc.extensions) from None
            return {"succeeded": bool(done) and all(done)}
        return {"updateBatch": update}


class Root:
    """The query or mutation root for one token's client: the companies it reaches, by customer."""

    def __init__(self, companies: Mapping[int, Company], reachable: set[int], *, mutation: bool) -> None:
        self.companies, self.reachable, self.mutation = companies, reachable, mutation

    def useCompany(self, _info: Any, no: int) -> Any:  # noqa: N802
        company = self.companies.get(no)
        if company is None or no not in self.reachable:
            # Business NXT's words for a company the user may not reach (features/errors).
            raise GraphQLError(f"Error: Could not get authorize user using VismaNetCompanyId: {no}. Description: "
                               "External integration error. Status: 18.",
                               extensions={"code": "EXECUTION_ERROR", "status": 18, "status_name": "NotAuthorized"})
        return CompanyMutation(company) if self.mutation else CompanyQuery(company)

    def availableCompanies(self, _info: Any, customerNo: int | None = None, first: int | None = None,  # noqa: N802,N803
                           last: int | None = None) -> dict[str, Any]:
        if customerNo is None:  # [unverified] that a service must name the customer; the stricter answer
            raise GraphQLError("Error: customerNo is required when fetching available companies in a service "
                               "context.", extensions={"code": "EXECUTION_ERROR", "status_name": "MissingValue"})
        owned = [c for c in self.companies.values() if c.customer_id == customerNo]
        if not owned:
            raise GraphQLError(f"Error: Could not fetch available companies for customer {customerNo}. The "
                               "customer does not exist or the service has no access to it.",
                               extensions={"code": "EXECUTION_ERROR", "status_name": "NotAuthorized"})
        items = [{"name": c.name, "vismaNetCompanyId": c.no, "vismaNetCustomerId": c.customer_id,
                  "organizationNo": c.organisation_no} for c in owned if c.no in self.reachable]
        items = items[:first] if first is not None else items[-last:] if last else items
        return {"totalCount": len(items), "items": items}


@functools.lru_cache(maxsize=256)
def _checked(schema: GraphQLSchema, query: str) -> tuple[ast.DocumentNode | None, tuple[GraphQLError, ...]]:
    """A document parsed and validated against the schema; the verdict on the same text is the same every time,
    so it is kept (graphql-core's validation costs ~30 ms a document: the bench would measure it, not us)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (exc,)
    return document, tuple(validate(schema, document))


def run(schema: GraphQLSchema, root: Callable[[bool], Root], query: str, variables: Mapping[str, Any] | None,
        operation: str | None) -> dict[str, Any]:
    """Parse, validate against the schema, execute: GraphQL's answer as a dict."""
    document, invalid = _checked(schema, query)
    if document is None:
        return {"errors": [{**invalid[0].formatted, "extensions": {"code": "SYNTAX_ERROR"}}]}
    if invalid:
        return {"errors": [{**e.formatted, "message": f"GraphQL.Validation.Errors: {e.message}",
                            "extensions": {"code": validation_code(e.message)}} for e in invalid]}
    kinds = [d.operation for d in document.definitions if isinstance(d, ast.OperationDefinitionNode)
             and (operation is None or (d.name and d.name.value == operation))]
    mutation = bool(kinds) and kinds[0] == ast.OperationType.MUTATION
    result = execute_sync(schema, document, root_value=root(mutation), variable_values=dict(variables or {}),
                     operation_name=operation)
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [e.formatted for e in result.errors]
    answer["data"] = result.data
    return answer
