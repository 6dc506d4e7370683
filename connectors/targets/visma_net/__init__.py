"""Visma.net ERP (Financials) as a target: shared-form vouchers as journal transactions, on hold until released."""
