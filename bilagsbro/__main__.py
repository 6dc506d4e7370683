"""`python -m bilagsbro` is the `bilagsbro` command."""

import sys

from bilagsbro.cli import main

sys.exit(main())
