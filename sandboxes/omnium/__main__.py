"""Serve the Omnium sandbox standalone: `python -m sandboxes.omnium --port 8081 --seed 1`."""

from __future__ import annotations

import argparse
import time

from sandboxes.omnium import OmniumSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.omnium", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--client-id", default="bilagsbro")
    parser.add_argument("--client-secret", default="hemmelig-nøkkel")
    args = parser.parse_args()
    sandbox = OmniumSandbox(client_id=args.client_id, client_secret=args.client_secret, host=args.host, port=args.port)
    sandbox.seed_orders(args.orders, days=args.days, seed=args.seed)
    sandbox.start()
    print(f"Omnium sandbox on {sandbox.base_url} with {len(sandbox.orders)} orders "
          f"(clientId={args.client_id})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
