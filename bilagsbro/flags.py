"""Command-line flags made from a connector's descriptor: one flag per setting of its model, typed and with the
model's own help, and `--<secret>-file` / `--<secret>-env` per secret (never the secret itself).

    bilagsbro connect TENANT tripletex --base-url URL --company-id N --create-customers ...

A yes/no setting is `--x` / `--no-x`; a list is comma-separated; a nested model or mapping is JSON. A flag not
given leaves the setting as it is in the connection in force.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from typing import Any

from bilagsbro.secret_input import add_secret_options
from pipeline.descriptors import Descriptor

SKIP = frozenset({"direct_posting"})  # given its own pair of flags: --direct-posting / --drafts


def _kind(annotation: Any) -> Any:
    """The type a setting's value has, without `| None` and Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(options[0]) if len(options) == 1 else str
    return annotation


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_setting_flags(parser: argparse.ArgumentParser, descriptor: Descriptor, *, skip: frozenset[str] = SKIP) -> None:
    """One flag per setting of the descriptor's model."""
    group = parser.add_argument_group(f"{descriptor.title} settings")
    ours = set(getattr(descriptor, "platform_settings", ()))  # the operator may have set it for every tenant
    for name, field in descriptor.settings.model_fields.items():
        if name in skip:
            continue
        flag, kind, text = f"--{name.replace('_', '-')}", _kind(field.annotation), field.description or ""
        if name in ours:
            text = f"{text} (the integration's: without it, the one set by `bilagsbro platform set`)"
        required = {"required": True} if field.is_required() and name not in ours else {}
        if kind is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif kind in (int, float):
            group.add_argument(flag, dest=name, type=kind, metavar=name.upper(), help=text, **required)
        elif typing.get_origin(kind) in (list, tuple):
            group.add_argument(flag, dest=name, type=_listed, metavar="A,B,...", help=f"{text} (comma-separated)",
                               **required)
        elif kind is str or typing.get_origin(kind) is typing.Literal:
            choices = typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else None
            group.add_argument(flag, dest=name, choices=choices, metavar=None if choices else name.upper(), help=text,
                               **required)
        else:  # a mapping or a nested model
            group.add_argument(flag, dest=name, type=_json, metavar="JSON", help=f"{text} (JSON)", **required)


def add_secret_flags(parser: argparse.ArgumentParser, descriptor: Descriptor) -> None:
    for secret in descriptor.secrets:
        add_secret_options(parser, secret.name, secret.label, f"Where: {secret.where}. Never on the command line; "
                           "without these, a terminal asks for it (input hidden).")


def given_settings(args: argparse.Namespace, descriptor: Descriptor, *, skip: frozenset[str] = SKIP) -> dict[str, Any]:
    """The settings the flags gave (those left out: not in the mapping)."""
    return {name: value for name in descriptor.settings.model_fields if name not in skip
            and (value := getattr(args, name, None)) is not None}
