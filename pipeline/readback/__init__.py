"""Reading back: a company's general ledger, chart, balances and voucher documents from its accounting system."""
