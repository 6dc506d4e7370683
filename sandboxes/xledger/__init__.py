"""A local stand-in for Xledger's GraphQL API, so the connector is tested over real HTTP without the real service."""

from sandboxes.xledger.company import Entity, Refused
from sandboxes.xledger.server import SCHEMA, XledgerSandbox

__all__ = ["SCHEMA", "Entity", "Refused", "XledgerSandbox"]
