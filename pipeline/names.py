"""Kept where it was for code written before the records moved together: the module is pipeline.records.names."""

import sys

from pipeline.records import names as _moved
from pipeline.records.names import *  # noqa: F403

sys.modules[__name__] = _moved
