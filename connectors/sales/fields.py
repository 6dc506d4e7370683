"""Which fields of an invoice, credit note or payment a target has no place for, read from its own field map.

Every target that takes invoices describes each shared-form field in its `FIELD_MAP` (pipeline.descriptors: `Lands`,
`Derived`, `NotAccepted`, `Refused`); a delivery names the instances of the `NotAccepted` ones the document carries
(`lines[2].product`), so the map the field-map page shows and what a delivery reports cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.descriptors import FieldMap, FieldRule, Lands, NotAccepted
from pipeline.model import Payment, SalesInvoice

Document = SalesInvoice | Payment


def not_accepted(document: Document, field_map: FieldMap,
                 otherwise: Callable[[Document], bool] = lambda _: False) -> tuple[str, ...]:
    """The instances of fields the map says the target does not accept, in the map's order, line by line. A field
    that `Lands` with an `otherwise` counts too where `otherwise(document)` says this document is such a case (a
    Visma.net credit note has no due date)."""
    rules = field_map[document.type]

    def refused(rule: FieldRule | None) -> bool:
        return isinstance(rule, NotAccepted) or isinstance(rule, Lands) and rule.otherwise is not None \
            and otherwise(document)

    fields = [name for name, rule in rules.items()
              if "[" not in name and "." not in name and refused(rule) and getattr(document, name, None)]
    per_line = [name.removeprefix("lines[].") for name, rule in rules.items()
                if name.startswith("lines[].") and "." not in name.removeprefix("lines[].") and refused(rule)]
    for i, line in enumerate(getattr(document, "lines", ())):
        fields += [f"lines[{i}].{name}" for name in per_line if getattr(line, name, None)]
        fields += [f"lines[{i}].dimensions.{name}" for name in line.dimensions
                   if refused(rules.get(f"lines[].dimensions.{name}", rules.get("lines[].dimensions.*")))]
    return tuple(fields)
