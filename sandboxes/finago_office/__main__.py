"""Serve the Finago Office sandbox standalone: `python -m sandboxes.finago_office --port 8282`."""

from __future__ import annotations

import argparse
import time

from sandboxes.finago_office import FinagoOfficeSandbox


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.finago_office", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8282)
    args = parser.parse_args()
    sandbox = FinagoOfficeSandbox(host=args.host, port=args.port).start()
    books = sandbox.books
    print(f"Finago Office sandbox on {sandbox.base_url} (client {books.client_id} {books.name}, {len(books.accounts)} "
          f"accounts); user {sandbox.user.username!r}, application id {sandbox.application_id}, password "
          f"{sandbox.user.password!r} (sandbox only)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()


if __name__ == "__main__":
    main()
