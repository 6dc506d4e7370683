"""Kept where it was for code written before the records moved together: the module is pipeline.records.trace."""

import sys

from pipeline.records import trace as _moved
from pipeline.records.trace import *  # noqa: F403

sys.modules[__name__] = _moved
