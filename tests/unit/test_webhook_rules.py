"""The rules every webhook delivery will follow: signatures a receiver can verify (also across a secret's
rotation), no calls into private networks, and retries that back off and stop after 24 hours."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest

from pipeline import webhooks

BODY = '{"type":"document.delivered","reference":"kasse-Ærøy"}'.encode()
NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
STAMP = int(NOW.timestamp())


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    header = webhooks.sign(["whsec_a"], STAMP, BODY)
    expected = hmac.new(b"whsec_a", f"{STAMP}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={STAMP},v1={expected}"
    assert webhooks.verify("whsec_a", header, BODY, now=NOW)


def test_a_changed_body_a_wrong_secret_or_an_old_timestamp_fail():
    header = webhooks.sign(["whsec_a"], STAMP, BODY)
    assert not webhooks.verify("whsec_a", header, BODY + b" ", now=NOW)
    assert not webhooks.verify("whsec_b", header, BODY, now=NOW)
    assert not webhooks.verify("whsec_a", header, BODY, now=NOW + dt.timedelta(minutes=6))
    assert not webhooks.verify("whsec_a", header.replace(f"t={STAMP}", f"t={STAMP + 1}"), BODY, now=NOW)
    assert not webhooks.verify("whsec_a", "v1=deadbeef", BODY, now=NOW)


def test_while_rotating_both_secrets_verify():
    header = webhooks.sign(["whsec_new", "whsec_old"], STAMP, BODY)
    assert webhooks.verify("whsec_new", header, BODY, now=NOW)
    assert webhooks.verify("whsec_old", header, BODY, now=NOW)
    assert not webhooks.verify("whsec_other", header, BODY, now=NOW)


def test_retries_back_off_and_stop_after_24_hours():
    waits, at, failed = [], NOW, 0
    while True:
        failed += 1
        due = webhooks.next_attempt(failed, NOW, at)
        if due is None:
            break
        waits.append((due - at).total_seconds())
        at = due
    assert waits[:4] == [30, 120, 600, 1800]
    assert waits == sorted(waits[:-1]) + [waits[-1]]  # never shorter than the wait before, but the last
    assert at == NOW + webhooks.RETRY_FOR  # the last attempt is at the 24-hour mark, not after it
    assert webhooks.next_attempt(failed, NOW, NOW + webhooks.RETRY_FOR) is None


def resolver(*addresses: str):
    return lambda host: list(addresses)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254",
                                     "::1", "fd00::1", "::ffff:10.0.0.1", "0.0.0.0", "100.64.0.1"])
def test_private_loopback_and_metadata_addresses_are_refused(address):
    problem = webhooks.target_problem("https://hooks.example.no/x", allow_private=False, resolve=resolver(address))
    assert problem is not None and "public addresses only" in problem


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    assert webhooks.target_problem("https://hooks.example.no/x", allow_private=False,
                                   resolve=resolver("93.184.216.34", "10.0.0.1")) is not None


def test_a_public_https_url_is_allowed_and_http_or_credentials_are_not():
    public = resolver("93.184.216.34")
    assert webhooks.target_problem("https://hooks.example.no/x", allow_private=False, resolve=public) is None
    assert "https" in str(webhooks.target_problem("http://hooks.example.no/x", allow_private=False, resolve=public))
    assert "password" in str(webhooks.target_problem("https://u:p@hooks.example.no/", allow_private=False,
                                                     resolve=public))
    assert webhooks.target_problem("ftp://hooks.example.no/", allow_private=False, resolve=public) is not None
    for malformed in ("http://[::1", "https://hooks example.no/", "https://hooks.example.no/a b", "https:///x"):
        assert "absolute https://" in str(webhooks.target_problem(malformed, allow_private=True))


def test_locally_a_loopback_receiver_is_allowed_by_setting():
    assert webhooks.target_problem("http://127.0.0.1:8080/hook", allow_private=True) is None
