"""Serve the Visma.net sandbox standalone: `python -m sandboxes.visma_net --port 8183`."""

from __future__ import annotations

import argparse
import time

from sandboxes.visma_net import VismaNetSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.visma_net", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8183)
    args = parser.parse_args()
    sandbox = VismaNetSandbox(host=args.host, port=args.port).start()
    company = sandbox.company
    print(f"Visma.net sandbox on {sandbox.base_url} (token endpoint {sandbox.token_url}); company {company.name!r}, "
          f"{len(company.accounts)} accounts, {len(company.periods)} financial periods; tenant id "
          f"{sandbox.tenant_id}, client id {sandbox.client_id!r} (the client secret is the sandbox's default, "
          "see VismaNetSandbox)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
