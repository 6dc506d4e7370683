"""A local stand-in for PowerOffice GO API v2, so the connector is tested over real HTTP without the real service."""

from sandboxes.poweroffice_go.company import GoClient, Invalid
from sandboxes.poweroffice_go.server import PowerOfficeSandbox

__all__ = ["GoClient", "Invalid", "PowerOfficeSandbox"]
