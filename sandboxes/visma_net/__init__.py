"""A local stand-in for Visma.net ERP (and Visma Connect's token endpoint), so the connector is tested over real HTTP."""

from sandboxes.faults import Faults
from sandboxes.visma_net.company import Company
from sandboxes.visma_net.server import VismaNetSandbox

__all__ = ["Company", "Faults", "VismaNetSandbox"]
