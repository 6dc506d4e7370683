"""The admin API's bodies per system, for the OpenAPI document: built from the descriptors, so the document
names each system's own settings and secrets, and each format's own options — exactly what the server checks.

- PUT .../connection: one schema per target (`target` its name; `settings` its settings model, each field
  nullable since null removes a setting; `credentials` its secrets), chosen by `target` (oneOf + discriminator).
- PUT .../formats/{format}: one schema per format's options model (anyOf: the path names the format).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from pipeline.descriptors import Descriptor, FormatDescriptor, TargetDescriptor

TEMPLATE = "#/components/schemas/{model}"


def schema_name(name: str, suffix: str) -> str:
    """"poweroffice-go", "Connection" → "PowerofficeGoConnection"."""
    return "".join(part.capitalize() for part in re.split(r"[-_\s]+", name) if part) + suffix


def _model(descriptor: Descriptor, components: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(descriptor.settings.model_json_schema(ref_template=TEMPLATE))
    components.update(schema.pop("$defs", {}))
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}], **({"description": schema["description"]}
                                                    if "description" in schema else {})}


def connection(descriptor: TargetDescriptor, components: dict[str, Any]) -> dict[str, Any]:
    """The body of PUT .../connection for one target."""
    settings = _model(descriptor, components)
    properties = {name: _nullable(field) for name, field in settings.get("properties", {}).items()}
    credentials = {secret.name: {"type": "string", "minLength": 1, "description": f"{secret.label}: {secret.where}"}
                   for secret in descriptor.secrets}
    drafts = descriptor.accepts.drafts
    return {
        "type": "object",
        "title": f"{descriptor.title} connection",
        "description": f"Connection test: {descriptor.check}. Drafts: "
                       + (drafts.meaning if drafts.available else f"none ({drafts.meaning})"),
        "additionalProperties": False,
        "required": ["target"],
        "properties": {
            "target": {"type": "string", "const": descriptor.name},
            "settings": {"type": "object", "additionalProperties": False, "properties": properties,
                         "description": "Settings to change; null removes one; those not given stay as they are"},
            "credentials": {"type": "object", "additionalProperties": False, "properties": credentials,
                            "description": "Kept in the secret store, never shown again; in force only once the "
                                           "connection test passes with them; those not given stay as they are"},
            "direct_posting": {"type": ["boolean", "null"],
                               "description": "Post directly instead of as drafts (opt-in); omitted: as the "
                                              "connection in force has it"},
        },
    }


def schemas(connectors: Mapping[str, Descriptor]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(components to add, the connection body, the format options body)."""
    components: dict[str, Any] = {}
    bodies: dict[str, str] = {}
    for name, descriptor in sorted(connectors.items()):
        if isinstance(descriptor, TargetDescriptor):
            bodies[name] = schema_name(name, "Connection")
            components[bodies[name]] = connection(descriptor, components)
    options: list[dict[str, str]] = []
    for name, descriptor in sorted(connectors.items()):
        if isinstance(descriptor, FormatDescriptor):
            model = _model(descriptor, components)
            model["title"] = f"{descriptor.title} options"
            components[schema_name(name, "Options")] = model
            options.append({"$ref": TEMPLATE.format(model=schema_name(name, "Options"))})
    connection_body: dict[str, Any] = {
        "oneOf": [{"$ref": TEMPLATE.format(model=ref)} for ref in bodies.values()],
        "discriminator": {"propertyName": "target",
                          "mapping": {name: TEMPLATE.format(model=ref) for name, ref in bodies.items()}},
    } if bodies else {"type": "object"}
    options_body: dict[str, Any] = {"anyOf": options, "description": "The options of the format the path names "
                                    "(each format's own; a name another format knows is refused)"} \
        if options else {"type": "object"}
    return components, connection_body, options_body
