"""The bookkeepers' workspace: server-rendered pages on the function app for accounting firms and their clients.

Who may see what lives in `access` (one place: every route declares its client and action, the router refuses
before a handler runs); who someone is lives in `identity` (organisations, users, roles) and `sessions`; every
change made here is written to `audit`. Pages call the same pipeline functions as the API (`pages_*`).
"""
