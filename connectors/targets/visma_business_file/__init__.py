"""Visma Business (on premises): vouchers written as Visma Business import files where the customer's import job
picks them up."""
