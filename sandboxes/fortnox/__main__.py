"""Serve the Fortnox sandbox standalone: `python -m sandboxes.fortnox --port 8186`."""

from __future__ import annotations

import argparse
import time

from sandboxes.fortnox import FortnoxSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.fortnox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8186)
    args = parser.parse_args()
    sandbox = FortnoxSandbox(host=args.host, port=args.port, rate_limit=None).start()
    print(f"Fortnox sandbox on {sandbox.base_url} (company «{sandbox.company.name}»); consent page "
          f"{sandbox.auth_url}, token endpoint {sandbox.token_url}, client id {sandbox.client_id!r}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
