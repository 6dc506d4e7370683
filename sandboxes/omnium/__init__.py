"""A local stand-in for Omnium OMS, so the order pull is tested over real HTTP without the real service."""

from sandboxes.omnium.orders import DayTotals, business_day
from sandboxes.omnium.server import Faults, OmniumSandbox

__all__ = ["DayTotals", "Faults", "OmniumSandbox", "business_day"]
