"""Fortnox (API v3) as an accounting system: vouchers with debit and credit rows, VAT on rows of its own."""
