"""Bilagsbro's own credentials for an accounting system — the integration's, not the customer's: Tripletex's
consumer token, PowerOffice GO's application and subscription keys, Finago Office's application id, the client id
and secret of our OAuth app at Fortnox, Fiken and Visma. One value per system, set once by the operator
(`bilagsbro platform set SYSTEM NAME`, value from a file, the environment or a prompt; in Azure, a Key Vault secret
of the name `platform_name` gives), used by every connection that is not given its own: a company that runs its
own integration still gives its own, and that wins. With them set, the connect wizard asks only for what is the
customer's; without them, it asks for both, as before.

Which credentials are the integration's is the descriptor's word (`Secret(platform=True)`,
`TargetDescriptor.platform_settings`); this module only finds which of them the operator has set. A platform
value is read from the secret store like any other secret (so it is redacted from every log), and a tenant's
settings hold its *name*, never the value, exactly as for the tenant's own credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.descriptors import Descriptor, TargetDescriptor
from pipeline.ports import NotFound, SecretStore

PREFIX = "platform"


def platform_name(system: str, key: str) -> str:
    """The secret store's name of the integration's `key` for `system`: Key Vault's letters, digits and hyphens."""
    return re.sub(r"[^0-9A-Za-z-]", "-", f"{PREFIX}--{system}--{key}")[:127]


def keys(descriptor: Descriptor) -> tuple[str, ...]:
    """What of `descriptor`'s credentials and settings the operator may set once for every tenant."""
    settings = descriptor.platform_settings if isinstance(descriptor, TargetDescriptor) else ()
    return (*(s.name for s in descriptor.secrets if s.platform), *settings)


def value(secrets: SecretStore, system: str, key: str) -> str | None:
    """The integration's `key` for `system` as the operator set it; None when it is not set."""
    try:
        return secrets.get(platform_name(system, key)) or None
    except NotFound:
        return None


def secret_names(secrets: SecretStore, descriptor: Descriptor) -> dict[str, str]:
    """credential → platform secret name, for each of the integration's credentials the operator has set."""
    return {s.name: platform_name(descriptor.name, s.name) for s in descriptor.secrets
            if s.platform and value(secrets, descriptor.name, s.name) is not None}


def settings(secrets: SecretStore, descriptor: Descriptor) -> dict[str, Any]:
    """setting → value, for each of the integration's settings (an OAuth app's client id) the operator has set."""
    names = descriptor.platform_settings if isinstance(descriptor, TargetDescriptor) else ()
    found = {name: value(secrets, descriptor.name, name) for name in names}
    return {name: value for name, value in found.items() if value is not None}


def fill(secrets: SecretStore, descriptor: Descriptor, target_settings: Mapping[str, Any]) -> dict[str, Any]:
    """`target_settings` (a connection's, with its `secrets` names) with the integration's values where the
    connection has none of its own: a name for each missing platform credential, each missing platform setting."""
    filled = dict(target_settings)
    for name, value in settings(secrets, descriptor).items():
        if filled.get(name) in (None, ""):
            filled[name] = value
    names = dict(filled.get("secrets") or {})
    filled["secrets"] = {**secret_names(secrets, descriptor), **names}
    return filled


def set_value(secrets: SecretStore, descriptor: Descriptor, key: str, value: str) -> str:
    """Set the integration's `key` for `descriptor`'s system; the name it went to. ValueError: not one of them."""
    if key not in keys(descriptor):
        known = ", ".join(keys(descriptor)) or "none"
        raise ValueError(f"{key!r} is not one of {descriptor.title}'s own credentials or settings (known: {known})")
    if not value:
        raise ValueError(f"the value of {key} is empty")
    name = platform_name(descriptor.name, key)
    secrets.set(name, value)
    return name
