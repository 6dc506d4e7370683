"""Kept where it was for code written before the records moved together: the module is pipeline.records.connections."""

import sys

from pipeline.records import connections as _moved
from pipeline.records.connections import *  # noqa: F403

sys.modules[__name__] = _moved
