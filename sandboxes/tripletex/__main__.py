"""Serve the Tripletex sandbox standalone: `python -m sandboxes.tripletex --port 8181 --seed demo`."""

from __future__ import annotations

import argparse
import time

from sandboxes.tripletex import TripletexSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.tripletex", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument("--seed", choices=("standard", "demo"), default="demo",
                        help="standard: chart of accounts and VAT types; demo: plus customers, departments, projects")
    parser.add_argument("--consumer-token", default="sandbox-consumer-token")
    parser.add_argument("--employee-token", default="sandbox-employee-token")
    args = parser.parse_args()
    sandbox = TripletexSandbox(consumer_token=args.consumer_token, employee_token=args.employee_token,
                               seed=args.seed, host=args.host, port=args.port).start()
    company = sandbox.company
    print(f"Tripletex sandbox on {sandbox.base_url} (company {company.id}, {len(company.accounts)} accounts, "
          f"{len(company.customers)} customers); consumer token {args.consumer_token!r}, "
          f"employee token {args.employee_token!r}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
