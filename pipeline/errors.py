"""Errors split by remedy, and problems as values.

A caller decides what to do from the class alone: `ConfigError` (fix settings or credentials, do not
retry), `DataError` (fix the source data, do not retry, report it), `TransientError` (retry with
backoff). Each carries the context an operator needs to act without reading logs.

`Problem` is not an exception: parsers and preflight return lists of them, so a file with 3 bad rows
out of 500 still yields 497 documents. A problem is an error (something was left out or refused)
unless its `severity` is "warning": a remark that changes nothing that is delivered (an empty voucher
in a year-end export, a guess the reader had to make). Only errors fail a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Problem:
    """Something wrong with the input, located as precisely as the source allows."""

    message: str
    field: str | None = None
    file: str | None = None
    line: int | None = None
    reference: str | None = None  # the voucher's reference, when known
    code: str = "invalid"  # a stable, machine-readable kind: invalid, unbalanced, missing-account, ...
    severity: str = "error"  # or "warning": nothing was left out; the reader tells what it noticed

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"a problem's severity is one of {SEVERITIES}, not {self.severity!r}")

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        """The problem as JSON; `severity` only when it is not the default "error" (older readers)."""
        return {k: v for k, v in self.__dict__.items()
                if v is not None and not (k == "severity" and v == "error")}

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        parts = [where, f"voucher {self.reference}" if self.reference else "", self.field or ""]
        prefix = ", ".join(p for p in parts if p)
        return f"{prefix}: {self.message}" if prefix else self.message


def shown(value: str) -> str:
    """A value as a problem quotes it: a 10,000-digit amount from a file must not make a 10 KB message."""
    return repr(value) if len(value) <= 40 else f"{value[:20]!r}…({len(value)} characters)"


class BilagsbroError(Exception):
    """Root of every error Bilagsbro raises on purpose."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        tenant: str | None = None,
        reference: str | None = None,
        connector: str | None = None,
        status: int | None = None,
        provider_message: str | None = None,
        request_id: str | None = None,
        problems: tuple[Problem, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.tenant = tenant
        self.reference = reference
        self.connector = connector
        self.status = status
        self.provider_message = provider_message
        self.request_id = request_id
        self.problems = tuple(problems)
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        return type(self).__name__

    def context(self) -> dict[str, Any]:
        """What goes into a trace entry: never secrets, always enough to act on."""
        ctx: dict[str, Any] = {"kind": self.kind, "message": self.message}
        for name in ("tenant", "reference", "connector", "status", "provider_message", "request_id"):
            value = getattr(self, name)
            if value is not None:
                ctx[name] = value
        if self.problems:
            ctx["problems"] = [p.as_dict() for p in self.problems]
        return ctx

    def __str__(self) -> str:
        extra = [f"{k}={v}" for k, v in self.context().items() if k not in ("kind", "message", "problems")]
        return self.message + (f" ({', '.join(extra)})" if extra else "")


class ConfigError(BilagsbroError):
    """Settings or credentials are wrong or missing: an operator must fix them; retrying won't help."""


class SecretsMissing(ConfigError):
    """A connection was asked for without secrets it needs: the operator must give them (a file, the environment,
    a prompt), which is the remedy the CLI names; other configuration errors have other remedies."""


class DataError(BilagsbroError):
    """The document itself is wrong for the target: the source (or the tenant's rules) must change."""


class TransientError(BilagsbroError):
    """A passing fault (timeout, 429, 5xx): retry with backoff."""

    retryable = True


class ClaimHeld(TransientError):
    """Another attempt holds the ledger claim for this reference right now: look again later."""


class OutcomeUnknown(TransientError):
    """A request may or may not have taken effect (timeout after sending, 5xx after commit).

    The retry must look the reference up in the target before posting again.
    """

