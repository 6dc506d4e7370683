"""The records: what Bilagsbro keeps — each document's trace, the originals and exchanges (history), the files'
reports, the tenants with their API keys and connections, and the names of every queue, table and container."""
