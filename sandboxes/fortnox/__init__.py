"""A local stand-in for Fortnox API v3 and its OAuth consent, so the connector is tested over real HTTP."""

from sandboxes.fortnox.company import Company
from sandboxes.fortnox.server import FortnoxSandbox

__all__ = ["Company", "FortnoxSandbox"]
