"""The HTTP API under /api/v1, beside function_app.py: plain functions, request in, response and queue messages out.

function_app.py names each route's handler; the same handlers serve Azure, the local host and the tests. The
domain (pipeline/) never imports this package.
"""
