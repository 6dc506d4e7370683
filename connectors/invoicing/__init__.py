"""What every target that takes sales invoices shares: the tenant's terms and payment rules (`terms.py`), and
creating a missing customer exactly once under concurrent deliveries (`claims.py`)."""
