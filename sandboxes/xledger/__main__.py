"""Serve the Xledger sandbox standalone: `python -m sandboxes.xledger --port 8183`."""

from __future__ import annotations

import argparse
import time

from sandboxes.xledger import Entity, XledgerSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.xledger", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8183)
    parser.add_argument("--processing", choices=("immediate", "deferred"), default="immediate",
                        help="immediate: import items become vouchers at once; deferred: they wait (see company.py)")
    args = parser.parse_args()
    sandbox = XledgerSandbox(entity=Entity(processing=args.processing, keep_processed=True), host=args.host,
                             port=args.port).start()
    print(f"Xledger sandbox on {sandbox.base_url} (entity {sandbox.entity.name}, "
          f"{len(sandbox.entity.accounts)} accounts); API token {sandbox.token!r}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
