"""Serve the PowerOffice GO sandbox standalone: `python -m sandboxes.poweroffice_go --port 8282`."""

from __future__ import annotations

import argparse
import time

from sandboxes.poweroffice_go import PowerOfficeSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.poweroffice_go", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8282)
    parser.add_argument("--seed", choices=("standard", "demo"), default="demo",
                        help="standard: chart of accounts and VAT codes; demo: plus customers, departments, projects")
    parser.add_argument("--rate-limit", type=int, default=10, help="requests per second per subscription key")
    args = parser.parse_args()
    sandbox = PowerOfficeSandbox(seed=args.seed, rate_limit=args.rate_limit, host=args.host, port=args.port).start()
    client = sandbox.client
    print(f"PowerOffice GO sandbox on {sandbox.base_url} (token {sandbox.root}/OAuth/Token; client «{client.name}», "
          f"{len(client.accounts)} accounts, {len(client.customers)} customers); application key "
          f"{sandbox.application_key!r}, client key {sandbox.client_key!r}, subscription key "
          f"{sandbox.subscription_key!r}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
