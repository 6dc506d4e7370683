"""Serve the Business NXT sandbox standalone: `python -m sandboxes.business_nxt --port 8182`."""

from __future__ import annotations

import argparse
import time

from sandboxes.business_nxt import BusinessNxtSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.business_nxt", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8182)
    parser.add_argument("--client-id", default="bilagsbro-sandbox")
    args = parser.parse_args()
    sandbox = BusinessNxtSandbox(client_id=args.client_id, host=args.host, port=args.port).start()
    print(f"Business NXT sandbox: GraphQL {sandbox.base_url}, token endpoint {sandbox.token_url}; client id "
          f"{args.client_id!r}, client secret {sandbox.client_secret!r}; customer ids 5000001, 5000002; companies "
          + ", ".join(f"{c.no} {c.name}" for c in sandbox.companies.values()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
