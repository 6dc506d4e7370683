"""The operator's side of Bilagsbro: the `bilagsbro` CLI, the local stack (a small Functions host on
Azurite, with sandbox accounting systems) for development, demos and end-to-end tests."""
