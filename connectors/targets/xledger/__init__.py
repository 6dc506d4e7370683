"""Xledger: shared-form vouchers delivered as general-ledger import items over Xledger's GraphQL API."""
