"""A local stand-in for Tripletex API v2, so the connector is tested over real HTTP without the real service."""

from sandboxes.faults import Faults
from sandboxes.tripletex.company import Company, Invalid
from sandboxes.tripletex.server import TripletexSandbox

__all__ = ["Company", "Faults", "Invalid", "TripletexSandbox"]
