"""Serve the Fiken sandbox standalone: `python -m sandboxes.fiken --port 8182`."""

from __future__ import annotations

import argparse
import time

from sandboxes.fiken import FikenSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.fiken", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8182)
    parser.add_argument("--personal-token", default="sandbox-personal-token")
    args = parser.parse_args()
    sandbox = FikenSandbox(personal_token=args.personal_token, host=args.host, port=args.port).start()
    company = sandbox.company
    print(f"Fiken sandbox on {sandbox.base_url} (company «{company.slug}», {len(company.accounts)} accounts, "
          f"{len(company.contacts)} contacts); personal API token {args.personal_token!r}; OAuth token endpoint "
          f"{sandbox.token_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
