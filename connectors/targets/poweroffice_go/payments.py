"""Payments registered in PowerOffice GO against the invoice they pay, exactly once: a bank voucher matched to it.

`POST /Vouchers/BankJournals` (`BankVoucherPostDto`, role BankVoucher_Full): the account the tenant names for the
payment method (settings.payment_accounts; else the payment's bank account) debited with the amount; the customer's
sub-ledger account credited with GO's `InvoiceNo` ("the system will try to match the payment line with the
accounting entry of the invoice") and GO's `Cid` (entries with the same KID and opposite amounts are matched). Paid
in full or in part: the customer credited with the payment. Short by at most the tolerance (fees, rounding): the
customer credited with the whole open amount, the shortfall debited on settings.fee_account — refused without one.
Over the open amount: refused, or on opt-in (settings.overpayments) credited in full (the customer in credit).
Our reference is the voucher's `ExternalImportReference` (GO refuses it twice); after an unknown outcome the voucher is
found by it among the account transactions of the payment's date. GO has no payment draft through its API that
matches an invoice [unverified: its journal-entry view takes bank vouchers], so a payment is always posted — and only
against an invoice GO has posted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.sales import checks
from connectors.targets.poweroffice_go import sales
from connectors.targets.poweroffice_go.invoicing import payment_body
from connectors.targets.poweroffice_go.mapping import NAME, NO_VAT, external_reference
from pipeline.errors import DataError, OutcomeUnknown, Problem
from pipeline.model import Payment
from pipeline.ports import Delivery

if TYPE_CHECKING:
    from connectors.targets.poweroffice_go.target import PowerOfficeTarget


def _plan(target: PowerOfficeTarget, payment: Payment) -> tuple[dict[str, Any], list[Problem]]:
    settings = target.settings

    def problem(code: str, where: str, message: str) -> Problem:
        return Problem(message, field=where, reference=payment.reference, code=code)

    found: list[Problem] = []
    if payment.currency != "NOK":
        found.append(problem("unsupported-currency", "currency", "PowerOffice GO payments are registered in NOK only"))
    method = payment.payment_method or "bank"
    account_no = settings.payment_accounts.get(method, payment.bank_account)
    wanted = [account_no] + ([settings.fee_account] if settings.fee_account else [])
    accounts = target.accounts(wanted)
    if account_no not in accounts:
        found.append(problem("missing-account", "payment_method", f"account {account_no}, where payments by "
                             f"{method} land (settings.payment_accounts), is not in PowerOffice GO"))
    invoice = sales.locate(target, payment.invoice_number, payment.kid)
    plan: dict[str, Any] = {"account": accounts.get(account_no), "fee_account": accounts.get(settings.fee_account or "")}
    if invoice is None:
        found.append(problem("missing-invoice", "invoice_number", f"no PowerOffice GO invoice has number "
                             f"{payment.invoice_number} or KID {payment.kid}"))
        return plan, found
    if "_draft" in invoice:
        found.append(problem("invoice-not-posted", "invoice_number", f"invoice {payment.invoice_number} is still a "
                             "sales order (a draft) in PowerOffice GO: it is paid once it is posted"))
        return plan, found
    balance = Decimal(str(invoice.get("Balance") if invoice.get("Balance") is not None else 0))
    steps, refusals = checks.payment_plan(payment, balance, tolerance=Decimal(settings.payment_tolerance),
                                          difference_type=settings.fee_account is not None,
                                          overpayments=settings.overpayments,
                                          difference_setting="no account for fees and rounding is set "
                                                             "(settings.fee_account)")
    found += [problem(code, "amount", message) for code, message in refusals]
    fee = next((amount for kind, amount in steps if kind == "difference"), Decimal(0))
    if fee and settings.fee_account and settings.fee_account not in accounts:
        found.append(problem("missing-account", "amount", f"the fee account {settings.fee_account} "
                             "(settings.fee_account) is not in PowerOffice GO"))
    customer = target.customer_by_number(invoice.get("CustomerNo"))
    if customer is None:
        found.append(problem("missing-customer", "invoice_number", f"the customer of invoice "
                             f"{invoice.get('InvoiceNo')} ({invoice.get('CustomerNo')}) is not in PowerOffice GO"))
    plan.update(invoice=invoice, balance=balance, fee=fee, customer=customer,
                credited=payment.amount + fee)  # a shortfall settles the invoice; a surplus under the tolerance too
    return plan, found


def payment_problems(target: PowerOfficeTarget, payment: Payment) -> list[Problem]:
    """Whether the payment can be registered: its invoice posted, its account, its amount."""
    return _plan(target, payment)[1]


def render_payment(target: PowerOfficeTarget, payment: Payment) -> dict[str, Any]:
    plan, _ = _plan(target, payment)
    invoice, customer = plan.get("invoice") or {}, plan.get("customer") or {}
    body = payment_body(payment, bank_account_id=(plan.get("account") or {}).get("Id"),
                        customer_account_id=customer.get("SubledgerAccountId"),
                        no_vat_id=target.vat_id(NO_VAT), invoice_no=invoice.get("InvoiceNo"),
                        cid=invoice.get("Cid") or None, credited=plan.get("credited", payment.amount),
                        fee=plan.get("fee", Decimal(0)), fee_account_id=(plan.get("fee_account") or {}).get("Id"))
    return {"voucher": body, "lookup": {"invoiceNumber": payment.invoice_number, "kid": payment.kid}}


def _by_reference(target: PowerOfficeTarget, payment: Payment, since: str | None) -> dict[str, Any] | None:
    """Our bank voucher among the account transactions of its date (AccountTransactionDto carries the reference)."""
    ours = external_reference(payment.reference)
    moment = (dt.datetime.fromisoformat(since) if since else dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=10)
    day = payment.date.isoformat()
    found = [t for t in target.records("AccountTransactions", {"fromDate": day, "toDate": day,
                                                               "createdDateTimeOffsetGreaterThan": moment.isoformat()})
             if t.get("ExternalImportReference") == ours]
    return {"Id": found[0]["VoucherId"], "VoucherNo": found[0].get("VoucherNo")} if found else None


def deliver_payment(target: PowerOfficeTarget, payment: Payment) -> Delivery:
    row = sales.progress(target, payment.reference)
    if row.get("State") == "done":
        return sales.delivery(row)
    voucher = {"Id": row["VoucherId"]} if row.get("VoucherId") else None
    if voucher is None and row.get("Step") == "create":  # an earlier attempt's outcome is unknown: look first
        voucher = _by_reference(target, payment, row.get("Since"))
    if voucher is None:
        plan, problems = _plan(target, payment)
        if problems:
            raise DataError(f"payment {payment.reference} cannot be registered: "
                            + "; ".join(p.message for p in problems), tenant=target.context.tenant,
                            reference=payment.reference, connector=NAME, problems=tuple(problems))
        body = render_payment(target, payment)["voucher"]
        sales.save(target, row, Step="create", Kind="payment", Since=sales._now(), Draft=False,
                   Invoice=str(plan["invoice"].get("InvoiceNo")), Before=f"{plan['balance']:.2f}",
                   Fee=f"{plan['fee']:.2f}")
        try:
            voucher = target.request("POST", "Vouchers/BankJournals", body=body, reference=payment.reference,
                                     role="BankVoucher_Full")
        except DataError as exc:
            if sales.DUPLICATE not in (exc.provider_message or "").lower():
                raise
            voucher = _by_reference(target, payment, row.get("Since"))  # GO holds it already
            if voucher is None:
                raise OutcomeUnknown(f"PowerOffice GO says payment {payment.reference} exists but does not list it "
                                     "yet", tenant=target.context.tenant, reference=payment.reference,
                                     connector=NAME) from exc
    sales.save(target, row, VoucherId=str(voucher["Id"]), VoucherNo=str(voucher.get("VoucherNo") or ""),
               Kind="payment", Draft=False, State="done")
    return sales.delivery(row)
