"""The one source of storage names: every queue, table and container the code uses.

infra/ creates exactly these (tests/infra checks the templates against this module), and the
function app's trigger bindings name them from here too.
"""

from __future__ import annotations

# The app setting (or identity-connection prefix) through which functions reach the data account.
STORAGE_CONNECTION = "BILAGSBRO_STORAGE"

# Queues: one per step a document has passed; a stage's function is triggered by the previous one.
QUEUE_RECEIVED = "received"
QUEUE_TRANSLATED = "translated"
QUEUE_ADAPTED = "adapted"
STAGE_QUEUES = (QUEUE_RECEIVED, QUEUE_TRANSLATED, QUEUE_ADAPTED)
POISON_SUFFIX = "-poison"
POISON_QUEUES = tuple(q + POISON_SUFFIX for q in STAGE_QUEUES)
QUEUE_WEBHOOKS = "webhooks"  # one message per webhook delivery attempt due (pipeline/webhook_events.py)
WEBHOOK_QUEUES = (QUEUE_WEBHOOKS, QUEUE_WEBHOOKS + POISON_SUFFIX)
QUEUE_LEDGER = "ledgersync"  # one message per slice (a period, or a file's year) of a ledger read-back (pipeline/readback)
LEDGER_QUEUES = (QUEUE_LEDGER, QUEUE_LEDGER + POISON_SUFFIX)
QUEUES = STAGE_QUEUES + POISON_QUEUES + WEBHOOK_QUEUES + LEDGER_QUEUES

# Tables.
TABLE_TENANTS = "tenants"
TABLE_APIKEYS = "apikeys"
TABLE_TRACE = "trace"
TABLE_LEDGER = "ledger"
TABLE_STATE = "state"  # watermarks of scheduled pulls, and other small per-tenant state
TABLE_INFLIGHT = "inflight"  # one row per receipt with documents on their way (pipeline/inflight.py)
TABLE_IDEMPOTENCY = "idempotency"  # Idempotency-Key claims of the vendor API, 24 hours (pipeline/idempotency.py)
TABLE_WEBHOOKS = "webhooks"  # a tenant's webhook endpoints (pipeline/webhook_endpoints.py)
TABLE_WEBHOOK_DELIVERIES = "webhookdeliveries"  # one row per event and endpoint, with every attempt
TABLE_WORKSPACE = "workspace"  # the bookkeepers' workspace: organisations, users, roles, reset links (workspace/)
TABLE_SESSIONS = "sessions"  # workspace sign-in sessions, by the SHA-256 of their id (workspace/sessions.py)
TABLE_AUDIT = "audit"  # what was changed from the workspace: who, when, what, why; append-only (workspace/audit.py)
# The general ledger read back from a company's accounting system (pipeline/readback, docs/decisions/0010).
TABLE_GL_BY_DATE = "glbydate"  # postings: a partition per tenant, company and month, rows in date order
TABLE_GL_BY_ACCOUNT = "glbyaccount"  # the same postings: a partition per tenant, company and account
TABLE_GL_BALANCES = "glbalances"  # per account and period: our sum beside the system's own report
TABLE_GL_MASTER = "glmaster"  # accounts, parties, dimensions, fiscal years, documents, the chosen source
TABLES = (TABLE_TENANTS, TABLE_APIKEYS, TABLE_TRACE, TABLE_LEDGER, TABLE_STATE, TABLE_INFLIGHT, TABLE_IDEMPOTENCY,
          TABLE_WEBHOOKS, TABLE_WEBHOOK_DELIVERIES, TABLE_WORKSPACE, TABLE_SESSIONS, TABLE_AUDIT, TABLE_GL_BY_DATE,
          TABLE_GL_BY_ACCOUNT, TABLE_GL_BALANCES, TABLE_GL_MASTER)

# Blob containers.
CONTAINER_RECEIVED = "received"  # originals, byte for byte as they arrived (90 days)
CONTAINER_DOCUMENTS = "documents"  # shared-form documents and adapted payloads (90 days)
CONTAINER_EXCHANGES = "exchanges"  # every request to and response from a target (90 days)
CONTAINER_DELIVERIES = "deliveries"  # what the open-format file target writes
CONTAINER_GL = "ledger"  # documents attached to vouchers read back, and uploaded SIE / SAF-T files (kept, not history)
CONTAINERS = (
    CONTAINER_RECEIVED,
    CONTAINER_DOCUMENTS,
    CONTAINER_EXCHANGES,
    CONTAINER_DELIVERIES,
    CONTAINER_GL,
)
# SFTP drops live on their own account (hierarchical namespace, SFTP on): one home folder per tenant
# in this container, files land in <tenant>/inbound/<format>/<file> or <tenant>/inbound/<file>.
SFTP_CONNECTION = "BILAGSBRO_SFTP_STORAGE"
CONTAINER_SFTP = "sftp"

# Containers whose blobs a lifecycle rule deletes after RETENTION_DAYS.
HISTORY_CONTAINERS = (CONTAINER_RECEIVED, CONTAINER_DOCUMENTS, CONTAINER_EXCHANGES)
RETENTION_DAYS = 90
