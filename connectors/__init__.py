"""Connectors: the file formats documents arrive in (sources) and the systems they leave to (targets).

The registries are literal dicts, no import-time discovery: adding a connector is one line here.
"""

from __future__ import annotations

from connectors.targets import file

TARGETS = {
    "file": file.connect,
}

# Source formats by name; SNIFFERS tell a file's format from its first bytes when none is given.
SOURCES: dict = {}
SNIFFERS: dict = {}
