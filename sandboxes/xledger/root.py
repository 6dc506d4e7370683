"""The Xledger sandbox's resolvers: the root fields of schema.graphql answered from an `Entity`.

graphql-core calls `Root.<field>(info, **arguments)` for each root field; nested fields are read from the dicts
returned. Lists are Relay connections (`edges{cursor node}`, `pageInfo`), paged with `first`/`after` where the
cursor is the node's dbId (as Xledger's pagination article describes it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sandboxes.xledger.company import Entity, Refused

PAGE_MAX = 10000  # "Max 10,000 records per query"


def connection(nodes: Iterable[dict[str, Any]], first: int | None = None, after: str | None = None,
               last: int | None = None, **_: Any) -> dict[str, Any]:
    rows = sorted(nodes, key=lambda n: int(n["dbId"]))
    if after:
        rows = [n for n in rows if int(n["dbId"]) > int(after)]
    size = min(first or last or PAGE_MAX, PAGE_MAX)
    page = rows[-size:] if last and not first else rows[:size]
    return {"edges": [{"cursor": str(n["dbId"]), "node": n} for n in page],
            "pageInfo": {"hasNextPage": len(rows) > len(page), "hasPreviousPage": bool(after)}}


def by_code(rows: Iterable[dict[str, Any]], wanted: dict[str, Any] | None) -> list[dict[str, Any]]:
    wanted = wanted or {}
    codes = set(wanted.get("code_in") or ()) | ({wanted["code"]} if wanted.get("code") else set())
    return [r for r in rows if not codes or r["code"] in codes]


def by_reference(rows: Iterable[dict[str, Any]], wanted: dict[str, Any] | None,
                 key: Callable[[dict[str, Any]], Any] = lambda r: r.get("extIdentifier")) -> list[dict[str, Any]]:
    wanted = wanted or {}
    refs = set(wanted.get("extIdentifier_in") or ()) | ({wanted["extIdentifier"]} if wanted.get("extIdentifier")
                                                       else set())
    return [r for r in rows if not refs or key(r) in refs]


class Root:
    def __init__(self, entity: Entity) -> None:
        self.entity = entity
        self.partial: list[Refused] = []  # refusals beside stored nodes (a non-atomic entity)

    def entities(self, info: Any, **page: Any) -> dict[str, Any]:
        return connection([{"dbId": 42365431, "code": "10001", "description": self.entity.name}], **page)

    def accounts(self, info: Any, filter: dict[str, Any] | None = None, objectStatus: str = "OPEN",
                 **page: Any) -> dict[str, Any]:
        rows = [a for a in self.entity.accounts.values()
                if objectStatus == "ALL" or (objectStatus == "CLOSED") == bool(a.get("closed"))]
        return connection(by_code(rows, filter), **page)

    def customers(self, info: Any, filter: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:
        return connection(by_code(self.entity.customers.values(), filter), **_page(page))

    def suppliers(self, info: Any, filter: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:
        return connection(by_code(self.entity.suppliers.values(), filter), **_page(page))

    def projects(self, info: Any, filter: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:
        return connection(by_code(self.entity.projects.values(), filter), **_page(page))

    def objectKinds(self, info: Any, **page: Any) -> dict[str, Any]:
        return connection([{"dbId": v, "name": k} for k, v in self.entity.object_kinds.items()], **page)

    def objectValues(self, info: Any, filter: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:
        kind = (filter or {}).get("objectKindDbId")
        return connection(by_code(self.entity.object_values(kind), filter), **_page(page))

    def glImportItems(self, info: Any, filter: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:
        rows = by_reference(self.entity.staged(), filter)
        if filter and filter.get("trRegNumber") is not None:
            rows = [r for r in rows if r.get("trRegNumber") == filter["trRegNumber"]]
        return connection(rows, **page)

    def glImportItemErrors(self, info: Any, filter: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:
        with self.entity.lock:
            errors = list(self.entity.errors)
        return connection(by_reference(errors, filter, key=lambda e: e["glImportItem"].get("extIdentifier")), **page)

    def transactions(self, info: Any, filter: dict[str, Any] | None = None, **page: Any) -> dict[str, Any]:
        return connection(by_reference(self.entity.transactions(), filter), **page)

    def addGLImportItems(self, info: Any, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        edges, refused = self.entity.add(inputs)
        if refused and edges:
            self.partial = refused
        elif refused:
            # Several errors at once: graphql-core takes one per field, so they travel joined in one message
            # (and every client id in `extensions.clientIds`).
            raise Refused(" ".join(r.message for r in refused),
                          clients=tuple(c for r in refused for c in r.clients))
        return {"edges": edges}


def _page(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "objectStatus"}
