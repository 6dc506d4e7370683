"""Norwegian accounting conventions in one place: VAT codes, NS 4102 accounts, KID, identifiers, amounts, text."""
