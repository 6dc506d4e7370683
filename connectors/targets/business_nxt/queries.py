"""Every GraphQL document the Business NXT connector sends, in one place: named operations with variables (Visma's
best practice: "Name the queries", "parameterize with variables"), each held against our schema file
(sandboxes/business_nxt/schema.graphql) by the tests and by the sandbox on every request.

Field names marked [unverified] in the schema file are used only here.
"""

from __future__ import annotations

PAGE = 500  # rows per page of a table read (first/after paging)

AVAILABLE_COMPANIES = """
query available_companies($customerNo: Int) {
  availableCompanies(customerNo: $customerNo) {
    totalCount
    items { name vismaNetCompanyId vismaNetCustomerId organizationNo }
  }
}"""

COMPANY_INFORMATION = """
query company_information($cid: Int!) {
  useCompany(no: $cid) {
    companyInformation {
      items { name organisationNo accountingYear vatTermMonths periodsPerYear lockedUntilDate }
    }
    voucherSeries(filter: {voucherSeriesNo: {_gte: 0}}) { items { voucherSeriesNo name nextVoucherNo } }
  }
}"""

ACCOUNTS = """
query accounts($cid: Int!, $numbers: [Int], $first: Int, $after: String) {
  useCompany(no: $cid) {
    generalLedgerAccount(filter: {accountNo: {_in: $numbers}}, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      items { accountNo name barred taxCode }
    }
  }
}"""

TAX_CODES = """
query tax_codes($cid: Int!, $numbers: [Int], $first: Int, $after: String) {
  useCompany(no: $cid) {
    taxCode(filter: {taxCode: {_in: $numbers}}, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      items { taxCode description rate }
    }
  }
}"""

CUSTOMERS = """
query customers($cid: Int!, $numbers: [Int], $first: Int, $after: String) {
  useCompany(no: $cid) {
    associate(filter: {customerNo: {_in: $numbers}}, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      items { associateNo customerNo name }
    }
  }
}"""

SUPPLIERS = """
query suppliers($cid: Int!, $numbers: [Int], $first: Int, $after: String) {
  useCompany(no: $cid) {
    associate(filter: {supplierNo: {_in: $numbers}}, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      items { associateNo supplierNo name }
    }
  }
}"""


def org_units(kind: int) -> str:
    """Org unit table `orgUnit<kind>` (Visma Business R1..R12); the schema declares the kinds we map (1, 2)."""
    return f"""
query org_units_{kind}($cid: Int!, $numbers: [Int], $first: Int, $after: String) {{
  useCompany(no: $cid) {{
    orgUnit{kind}(filter: {{orgUnitNo: {{_in: $numbers}}}}, first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      items {{ orgUnitNo name }}
    }}
  }}
}}"""


VOUCHER_SERIES = """
query voucher_series($cid: Int!, $series: Int!) {
  useCompany(no: $cid) {
    voucherSeries(filter: {voucherSeriesNo: {_eq: $series}}) { items { voucherSeriesNo nextVoucherNo lastVoucherNo } }
  }
}"""

CREATE_BATCH = """
mutation create_batch($cid: Int!, $batch: [Batch_Input!]!) {
  useCompany(no: $cid) {
    batch_create(values: $batch) {
      affectedRows
      items {
        batchNo
        valueDate
        vouchers: joindown_Voucher_via_Batch { items { lineNo voucherNo amountDomestic } }
      }
    }
  }
}"""

UPDATE_BATCH = """
mutation update_batch($cid: Int!, $batchNo: Int!) {
  useCompany(no: $cid) {
    batch_processings { updateBatch(filter: {batchNo: {_eq: $batchNo}}) { succeeded } }
  }
}"""

# Our reference is in every row's additionalText: unposted rows are in `voucher`, updated ones in `updatedVoucher`.
FIND = """
query find_reference($cid: Int!, $reference: String!) {
  useCompany(no: $cid) {
    voucher(filter: {additionalText: {_eq: $reference}}) { items { batchNo voucherNo amountDomestic } }
    updatedVoucher(filter: {additionalText: {_eq: $reference}}) { items { journalNo batchNo voucherNo } }
  }
}"""

ALL = {"available_companies": AVAILABLE_COMPANIES, "company_information": COMPANY_INFORMATION, "accounts": ACCOUNTS,
       "tax_codes": TAX_CODES, "customers": CUSTOMERS, "suppliers": SUPPLIERS, "voucher_series": VOUCHER_SERIES,
       "create_batch": CREATE_BATCH, "update_batch": UPDATE_BATCH, "find_reference": FIND,
       **{f"org_units_{kind}": org_units(kind) for kind in range(1, 13)}}
