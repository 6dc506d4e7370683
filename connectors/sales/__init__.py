"""What every target that takes sales invoices and payments shares: the checks before posting and the customer claims."""
