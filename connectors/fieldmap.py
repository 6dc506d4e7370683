"""docs/field-map.md, generated from the registry's descriptors (pipeline/fieldmap.py renders it):

    python -m connectors.fieldmap --write docs/field-map.md

tests/test_field_map.py fails when the checked-in file differs from what this writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import connectors
    from pipeline.fieldmap import markdown

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", metavar="FILE", help="write the map to this file instead of standard output")
    args = parser.parse_args(argv)
    text = markdown(connectors.CONNECTORS) + "\n"
    if args.write:
        Path(args.write).write_text(text, "utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
