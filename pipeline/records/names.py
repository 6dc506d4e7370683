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
QUEUES = STAGE_QUEUES + POISON_QUEUES + WEBHOOK_QUEUES

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
TABLES = (TABLE_TENANTS, TABLE_APIKEYS, TABLE_TRACE, TABLE_LEDGER, TABLE_STATE, TABLE_INFLIGHT, TABLE_IDEMPOTENCY,
          TABLE_WEBHOOKS, TABLE_WEBHOOK_DELIVERIES, TABLE_WORKSPACE, TABLE_SESSIONS, TABLE_AUDIT)

# Blob containers.
CONTAINER_RECEIVED = "received"  # originals, byte for byte as they arrived (90 days)
CONTAINER_DOCUMENTS = "documents"  # shared-form documents and adapted payloads (90 days)
CONTAINER_EXCHANGES = "exchanges"  # every request to and response from a target (90 days)
CONTAINER_DELIVERIES = "deliveries"  # what the open-format file target writes
CONTAINERS = (
    CONTAINER_RECEIVED,
    CONTAINER_DOCUMENTS,
    CONTAINER_EXCHANGES,
    CONTAINER_DELIVERIES,

)
# SFTP drops live on their own account (hierarchical namespace, SFTP on): one home folder per tenant
# in this container, files land in <tenant>/inbound/<format>/<file> or <tenant>/inbound/<file>.
SFTP_CONNECTION = "BILAGSBRO_SFTP_STORAGE"
CONTAINER_SFTP = "sftp"

# Containers whose blobs a lifecycle rule deletes after RETENTION_DAYS.
HISTORY_CONTAINERS = (CONTAINER_RECEIVED, CONTAINER_DOCUMENTS, CONTAINER_EXCHANGES)
RETENTION_DAYS = 90
