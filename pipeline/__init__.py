"""The pipeline: the shared form, the ports it talks through, and the four stages.

Nothing here imports `connectors` or `azure.functions` (tests/test_architecture.py enforces it):
storage, secrets and accounting systems reach the pipeline only through the Protocols in
`pipeline.ports`.
"""
