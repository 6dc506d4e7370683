"""The verification code docs/webhooks.md gives receivers verifies Bilagsbro's own signatures, also across a
rotation, and refuses a changed body, a wrong secret and an old timestamp."""

from __future__ import annotations

import re
import time
from pathlib import Path

from pipeline import webhooks

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def receivers_verify():
    [code] = [block for block in re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.S)
              if "def verify" in block]
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # the documented code, as a receiver would paste it
    return namespace["verify"]


def test_the_documented_code_verifies_our_signatures():
    verify = receivers_verify()
    body = '{"id":"d-1.delivered.1","data":{"reference":"Ærøy"}}'.encode()
    now = int(time.time())
    header = webhooks.sign(["whsec_new", "whsec_old"], now, body)
    assert verify("whsec_new", header, body) and verify("whsec_old", header, body)
    assert not verify("whsec_other", header, body)
    assert not verify("whsec_new", header, body + b" ")
    assert not verify("whsec_new", webhooks.sign(["whsec_new"], now - 301, body), body)
