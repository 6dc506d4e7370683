"""What a connector declares about itself: one value per system, from which everything else is built.

A descriptor says what a system is called, what kind of connector it is, which settings it takes (a frozen
pydantic model that refuses unknown names), which secrets the customer gives us and where they find them, how
its connection is tested and — for accounting systems — what it accepts. The registry of descriptors is the
literal dict `connectors.CONNECTORS`; from it are built the CLI's flags, the admin API's validation, the OpenAPI
document, the contract suite, the golden tests and the README's table. Only the types live here (pipeline/
never imports connectors/).

    Descriptor              name, title, settings model, secrets, secret_names, guide
    ├── TargetDescriptor    + connect (the factory), accepts (with its field map), check, http
    ├── FormatDescriptor    + parse, sniff, notes            (a file source; settings are its options)
    └── PulledDescriptor    + source (imported on first use), check
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema

from pipeline.errors import ConfigError, Problem
from pipeline.ports import PulledSource, Source, TargetFactory

# An http(s) address as a connection setting: printable ASCII only (a control character, a space or a letter outside
# ASCII would make the HTTP client refuse the address at the first request), no query or fragment.
URL_PATTERN = r"^https?://[A-Za-z0-9.:_~%\[\]-]+(/[\x21\x22\x24-\x3e\x40-\x7e]*)?$"


def _without_trailing_slash(value: str) -> str:
    return value.rstrip("/")


Url = Annotated[str, Field(pattern=URL_PATTERN, max_length=300), AfterValidator(_without_trailing_slash)]
"""An address setting (a system's API, token or consent endpoint): URL_PATTERN, kept without a trailing slash so that
`base_url + "/path"` has exactly one."""

Kind = Literal["target", "file-source", "pulled-source"]
# What a target's preflight can check against the system, in the words of `Accepts.checks`; each has the
# problem code the contract suite expects when the voucher needs one the system lacks.
CHECKS: dict[str, str] = {
    "accounts": "missing-account",
    "vat_codes": "unknown-vat-code",
    "customers": "missing-customer",
    "suppliers": "missing-supplier",
    "departments": "missing-department",
    "projects": "missing-project",
}


# Keys of a tenant's stored settings that pipeline.records.connections keeps, not the customer: never a setting.
MANAGED = ("secrets", "facts")


def _number_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Code = Annotated[str, BeforeValidator(_number_as_text), WithJsonSchema({"type": ["string", "integer"]})]
"""An account number, VAT code or other code: text, or a whole number that is kept as text ("3000")."""


class Settings(BaseModel):
    """Base of every connector's settings: frozen, and a name the model does not know is refused.

    The tenant's stored settings also hold `secrets` (the names of its secrets in the secret store) and `facts`
    (what the system said about the company at the last passed connection test), both managed by
    pipeline.records.connections: `read` leaves those keys to them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def read(cls, values: Mapping[str, Any], *, tenant: str | None = None, connector: str | None = None,
             strict: bool = False, prefix: str = "settings") -> Self:
        """The settings from a tenant's stored mapping (or an admin's request, `strict`), or a ConfigError
        naming every bad field (`<prefix>.<field>`)."""
        given = {k: v for k, v in values.items() if k not in MANAGED}
        try:
            if strict:  # as JSON says it, without coercion: what a request body gives is what is checked
                return cls.model_validate_json(json.dumps(given, default=str), strict=True)
            return cls.model_validate(given)
        except ValidationError as exc:
            found = problems(exc, prefix)
            raise ConfigError(f"{prefix} not valid: {'; '.join(str(p) for p in found)}", tenant=tenant,
                              connector=connector, problems=tuple(found)) from None


class TargetSettings(Settings):
    """Settings every accounting system has."""

    direct_posting: bool = Field(False, description="Post straight to the ledger instead of as drafts (opt-in)")


def problems(exc: ValidationError, prefix: str = "settings") -> list[Problem]:
    """Pydantic's errors as problems, each naming its field (`settings.base_url`)."""
    found = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "not a setting of this system"
        found.append(Problem(message, field=where, code="invalid-setting"))
    return found


@dataclass(frozen=True, kw_only=True)
class Secret:
    """A credential the customer gives us: kept in the secret store, never in settings, logs or arguments."""

    name: str  # its key in `credentials`; the CLI reads it from --<name>-file / --<name>-env or a prompt
    label: str  # what the customer calls it, e.g. "Employee token"
    where: str  # where the customer gets it, in their words (the CLI's prompt and help, the guide)
    # False for one of several ways in (Fiken: a personal API token, or OAuth's refresh token and client secret):
    # a connection is not refused for lacking it; the system's connection test names what is missing.
    required: bool = True
    # The integration's own, not the customer's (Tripletex's consumer token, an OAuth app's client secret): the
    # operator may set it once for every tenant (pipeline.records.platform); a connection given its own uses that.
    platform: bool = False

    @property
    def flag(self) -> str:
        return self.name.replace("_", "-")


@dataclass(frozen=True, kw_only=True)
class Drafts:
    """Whether a system has a draft path, and what "draft" means there."""

    available: bool
    meaning: str  # e.g. "a non-posted voucher (Bilag → Ikke bokførte bilag) that someone posts in Tripletex"


@dataclass(frozen=True)
class Lands:
    """A shared-form field arrives in the target: at `to` (a path in the payload `render` builds, e.g.
    `postings[].amountGross`; `[]` for each item, `a|b` for whichever of two a payload item has), transformed as
    `how` says. `otherwise`: when it cannot land in some cases (Fiken keeps a customer only on its receivable), why —
    it is then left out and named in the delivery's `not_accepted`."""

    to: str
    how: str = "as is"
    otherwise: str | None = None


@dataclass(frozen=True)
class Derived:
    """The target works the value out itself from other fields (Tripletex computes VAT from the gross amount and the
    VAT type): it is not sent, and changing it changes nothing sent."""

    how: str


@dataclass(frozen=True)
class NotAccepted:
    """The target has no place for the field: it is left out, and each delivery names it in `not_accepted`."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """The target takes only the values `accepted` (e.g. NOK); a document with another is a preflight problem
    naming the field."""

    reason: str
    accepted: tuple[str, ...] = ()


FieldRule = Lands | Derived | NotAccepted | Refused
FieldMap = Mapping[str, Mapping[str, FieldRule]]
"""The public field map of a target: document type → shared-form field (`reference`, `lines[].vat_code`,
`lines[].dimensions.*`) → what becomes of it. pipeline/fieldmap.py lists the fields and renders the map
(docs/field-map.md, GET /api/docs/field-map); the contract suite proves every claim against `render` and `deliver`."""


@dataclass(frozen=True, kw_only=True)
class Accepts:
    """What an accounting system takes from the shared form."""

    documents: tuple[str, ...]  # document types (pipeline.model.DOCUMENT_TYPES) it delivers; others are a preflight problem
    drafts: Drafts
    currencies: tuple[str, ...] = ()  # ISO 4217 codes it takes; empty: any
    dimensions: tuple[str, ...] = ()  # dimensions a line carries there; ("*",): any
    checks: tuple[str, ...] = ()  # what its preflight checks against the system (CHECKS' keys)
    # Shared-form fields it has no place for ("lines[].kid", "lines[].dimensions.*", "voucher_type") and why:
    # a delivery lists the instances in `Delivery.not_accepted`; nothing is invented or hidden elsewhere.
    not_accepted: Mapping[str, str] = field(default_factory=dict)
    # For each document type it takes, what becomes of every field of the shared form (FieldMap). A registered
    # target without one fails the contract suite.
    fields: FieldMap = field(default_factory=dict)
    # Where sales invoices have another draft path than vouchers (Fiken: invoice drafts, no voucher drafts); None:
    # the same as `drafts`.
    invoice_drafts: Drafts | None = None


@dataclass(frozen=True, kw_only=True)
class Descriptor:
    """A connector as the rest of Bilagsbro sees it."""

    kind: ClassVar[Kind]
    name: str  # the registry key, in URLs and commands: "tripletex", "gbat10"
    title: str  # what customers call it: "PowerOffice GO", "GBAT10 (Extenda Go)"
    settings: type[Settings]  # for a file format: its options
    secrets: tuple[Secret, ...] = ()
    # Every name under which the system sends or returns a secret — query parameters, JSON fields, headers — that
    # the generic net (names containing token, secret, password, api key, authorization, cookie, credential)
    # misses: redacted from the exchange log and from every log line.
    secret_names: tuple[str, ...] = ()
    guide: str | None = None  # docs/connect/<name>.md: how a customer connects it


@dataclass(frozen=True, kw_only=True)
class TargetDescriptor(Descriptor):
    """An accounting system (or the file target) documents are delivered to."""

    kind: ClassVar[Kind] = "target"
    connect: TargetFactory  # imports the connector's internals on first use (cold start stays light)
    accepts: Accepts
    check: str  # what the connection test (`Target.check`) asks the system, in words
    http: bool = True  # reached over HTTP through connectors.http (False: no HTTP faults to test or retry)
    # A setting the customer picks from a list the system gives (`pipeline.ports.Companies`), e.g. the company
    # of several an integration can reach: the CLI and the admin API list the choices when it is not given.
    picks: str | None = None
    # A system the customer connects by giving consent on its own site (OAuth authorization code, e.g. Fortnox)
    # rather than by typing credentials: `consent(stores, tenant, settings, credentials, base_url)` makes a hosted
    # onboarding link ({"url", "expires"}); the secrets in `consent_gives` come from that consent, not from a form.
    consent: Callable[..., dict[str, Any]] | None = None
    consent_gives: tuple[str, ...] = ()
    # Settings that are the integration's, not the customer's (an OAuth app's client id): like `Secret.platform`,
    # the operator may set them once for every tenant (pipeline.records.platform).
    platform_settings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FormatDescriptor(Descriptor):
    """A file format documents arrive in; its settings are the tenant's options for the format."""

    kind: ClassVar[Kind] = "file-source"
    parse: Source
    sniff: Callable[[bytes, str], bool]  # does a file's head (and name) look like this format?
    notes: str  # one line for the README's table: what the reader understands


@dataclass(frozen=True, kw_only=True)
class PulledDescriptor(Descriptor):
    """A system we pull from on a timer (Omnium OMS)."""

    kind: ClassVar[Kind] = "pulled-source"
    source: Callable[[], PulledSource]  # imported on first use: it brings its HTTP client along
    check: str


def targets(registry: Mapping[str, Descriptor]) -> dict[str, TargetDescriptor]:
    return {name: d for name, d in registry.items() if isinstance(d, TargetDescriptor)}


def formats(registry: Mapping[str, Descriptor]) -> dict[str, FormatDescriptor]:
    return {name: d for name, d in registry.items() if isinstance(d, FormatDescriptor)}


def pulled(registry: Mapping[str, Descriptor]) -> dict[str, PulledDescriptor]:
    return {name: d for name, d in registry.items() if isinstance(d, PulledDescriptor)}
