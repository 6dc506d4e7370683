"""Kept where it was for code written before the records moved together: the module is pipeline.records.tenants."""

import sys

from pipeline.records import tenants as _moved
from pipeline.records.tenants import *  # noqa: F403

sys.modules[__name__] = _moved
