"""Visma Business NXT (GraphQL): vouchers as batches left unposted as drafts; see target.py."""
