"""Fiken (API v2): shared-form vouchers posted as general journal entries (fri postering); see target.py."""
