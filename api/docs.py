"""The API's own documentation, served by the function app: the OpenAPI document, its readable page, the field map."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.http import Request, Response
from pipeline.ports import Stores

if TYPE_CHECKING:
    from pipeline.registry import Connectors


def docs_json(stores: Stores, connectors: Connectors, request: Request) -> Response:
    from api import openapi

    return Response(200, openapi.spec(request.base_url, connectors=connectors.descriptors))


def docs_html(stores: Stores, connectors: Connectors, request: Request) -> Response:
    from api import openapi

    return Response(200, openapi.html(request.base_url, connectors=connectors.descriptors),
                    content_type="text/html; charset=utf-8")


def docs_field_map(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The public field map: every field of the shared form, what each accounting system does with it."""
    from pipeline import fieldmap

    return Response(200, fieldmap.html(connectors.descriptors, request.base_url),
                    content_type="text/html; charset=utf-8")
