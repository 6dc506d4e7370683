"""Secrets for the CLI: from a file, an environment variable, or a prompt without echo — never from arguments,
which every user of the machine can read in the process list (`ps`, /proc/<pid>/cmdline) and the shell keeps.

Each credential a connector declares gets `--<name>-file PATH` ('-' reads stdin) and `--<name>-env VAR`;
without either, a terminal prompts for it with echo off, and a script keeps the value in force.
"""

from __future__ import annotations

import argparse
import getpass
import os
import stat
import sys
from pathlib import Path


def flag(credential: str) -> str:
    return credential.replace("_", "-")


def read_secret(args: argparse.Namespace, credential: str, label: str, where: str | None = None) -> str | None:
    """`--<name>-file PATH` ('-': standard input), `--<name>-env VAR`, else a prompt without echo when
    standard input is a terminal (after `where`: where the customer finds it); None when none was given (the
    active value is kept, if there is one)."""
    attribute = credential.replace("-", "_")
    path, variable = getattr(args, f"{attribute}_file", None), getattr(args, f"{attribute}_env", None)
    if path and variable:
        raise ValueError(f"give --{flag(credential)}-file or --{flag(credential)}-env, not both")
    if path == "-":
        value = sys.stdin.readline()
    elif path:
        file = Path(path)
        if file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            print(f"bilagsbro: warning: {path} can be read by others than you (chmod 600 it)", file=sys.stderr)
        value = file.read_text("utf-8")
    elif variable:
        if variable not in os.environ:
            raise ValueError(f"--{flag(credential)}-env names {variable}, which is not set")
        value = os.environ[variable]
    elif sys.stdin.isatty():
        if where:
            print(where, file=sys.stderr)
        value = getpass.getpass(f"{label} (input hidden; Enter keeps the current one): ")
    else:
        return None
    value = value.rstrip("\r\n")
    if (path or variable) and not value:
        raise ValueError(f"the {label} given by --{flag(credential)}-{'file' if path else 'env'} is empty")
    return value or None


def add_secret_options(parser: argparse.ArgumentParser, credential: str, label: str, where: str | None = None) -> None:
    name = flag(credential)
    group = parser.add_argument_group(label, where)
    group.add_argument(f"--{name}-file", metavar="PATH", help=f"read the {label} from this file ('-': stdin)")
    group.add_argument(f"--{name}-env", metavar="VAR", help=f"read the {label} from this environment variable")


def refused_argument(argv: list[str], credentials: set[str]) -> str | None:
    """Secrets as plain arguments show in the process list (`ps`, /proc) and shell history: refused."""
    for item in argv:
        option = item.split("=", 1)[0]
        if option.startswith("--") and option[2:].replace("-", "_") in credentials:
            return (f"{option} was removed: a secret on the command line shows in the process list. "
                    f"Use {option}-file PATH, {option}-env VAR, or leave it out to be prompted (input hidden)")
    return None
