"""A local stand-in for Visma Business NXT's GraphQL service and Visma Connect's token endpoint, so the connector
is tested over real HTTP, every query validated against our schema file (schema.graphql)."""

from sandboxes.business_nxt.company import Company, Refused
from sandboxes.business_nxt.server import BusinessNxtSandbox, Faults

__all__ = ["BusinessNxtSandbox", "Company", "Faults", "Refused"]
