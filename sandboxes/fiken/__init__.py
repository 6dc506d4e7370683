"""A local stand-in for Fiken API v2, so the connector is tested over real HTTP without the real service."""

from sandboxes.fiken.company import Company
from sandboxes.fiken.server import FikenSandbox

__all__ = ["Company", "FikenSandbox"]
