"""The Fortnox connector against its sandbox: refresh tokens rotated and saved, one refresh for many workers,
a token rotated elsewhere picked up, the customer's words for a withdrawn consent, and its own preflight."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.errors import ConfigError
from pipeline.model import Voucher
from sandboxes.fortnox import FortnoxSandbox


def _voucher(reference: str, date: str = "2026-11-04", **line: Any) -> Voucher:
    return Voucher(reference=reference, date=date, description="Dagsoppgjør på Røa",
                   lines=[{"account": "1920", "amount": "250.00"},
                          {"account": "3000", "amount": "-250.00", "vat_code": "3", **line}])


def test_every_refresh_token_is_saved_before_it_is_used_and_the_spent_one_is_gone(
        sandbox: FortnoxSandbox, wire: Callable[..., Any]) -> None:
    wired = wire()
    first = wired.secrets.get("refresh")
    wired.target().deliver(_voucher("ROT-1"))
    second = wired.secrets.get("refresh")
    assert second != first and first in sandbox.spent and second in sandbox.refresh_tokens
    for token, (_, scopes) in list(sandbox.access.items()):
        sandbox.access[token] = (0.0, scopes)
    wired.target().deliver(_voucher("ROT-2"))  # the access token expired: a 401, one refresh, sent again
    assert wired.secrets.get("refresh") not in (first, second)
    assert [v["Description"].split("]")[0] for v in sandbox.company.vouchers] == ["[ROT-1", "[ROT-2"]


def test_eight_workers_share_one_refresh(sandbox: FortnoxSandbox, wire: Callable[..., Any]) -> None:
    wired = wire()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: wired.target().deliver(_voucher(f"PAR-{i}")), range(16)))
    assert sandbox.count("POST", "/oauth-v1/token") == 1 and len(sandbox.company.vouchers) == 16


def test_a_refresh_token_rotated_by_another_process_is_read_again_from_the_store(
        sandbox: FortnoxSandbox, wire: Callable[..., Any]) -> None:
    ours, theirs = wire(), wire()
    theirs.secrets = ours.secrets  # two hosts, one Key Vault
    ours.target().check()  # we hold an access token and the current refresh token
    theirs.target().check()  # another process refreshes: the token in our memory is spent
    ours.cache.clear()
    ours.target().deliver(_voucher("ANNEN-1"))
    assert len(sandbox.company.vouchers) == 1


def test_a_withdrawn_consent_is_told_in_the_customers_words(sandbox: FortnoxSandbox,
                                                           wire: Callable[..., Any]) -> None:
    target = wire().target()
    sandbox.revoke()
    with pytest.raises(ConfigError, match="give Bilagsbro permission again through the onboarding link"):
        target.check()


def test_a_missing_licence_is_named(sandbox: FortnoxSandbox, wire: Callable[..., Any]) -> None:
    sandbox.company.licensed = False
    with pytest.raises(ConfigError, match="ingen aktiv licens"):
        wire().target().check()


def test_without_the_opt_in_nothing_is_sent_and_preflight_says_why(sandbox: FortnoxSandbox,
                                                                    wire: Callable[..., Any]) -> None:
    target = wire().target(direct_posting=False)
    problems = target.preflight([_voucher("OPT-1")])
    assert [p.code for p in problems] == ["direct-posting-required"]
    with pytest.raises(ConfigError, match="no draft"):
        target.deliver(_voucher("OPT-1"))
    with pytest.raises(ConfigError, match="opt in to direct posting"):
        target.check()
    assert sandbox.company.vouchers == []


def test_preflight_names_the_financial_year_the_series_and_inactive_accounts(
        sandbox: FortnoxSandbox, wire: Callable[..., Any]) -> None:
    target = wire().target(voucher_series="Z")
    voucher = Voucher(reference="PRE-1", date="2027-02-01", lines=[{"account": "7700", "amount": "1.00"},
                                                                    {"account": "1920", "amount": "-1.00"}])
    inactive = Voucher(reference="PRE-2", date="2026-02-01", lines=[{"account": "7700", "amount": "1.00"},
                                                                     {"account": "1920", "amount": "-1.00"}])
    found = {(p.reference, p.code, p.field) for p in target.preflight([voucher, inactive])}
    assert ("PRE-1", "no-financial-year", "date") in found
    assert ("PRE-1", "unknown-voucher-series", "settings.voucher_series") in found
    assert ("PRE-2", "missing-account", "lines[0].account") in found
    assert target.accounts_missing(["3000", "2999", "30"]) == {
        "2999": "does not exist in Fortnox", "30": "is no Fortnox account number (four digits)"}


def test_the_connection_test_reports_company_series_and_financial_year(sandbox: FortnoxSandbox,
                                                                       wire: Callable[..., Any]) -> None:
    said = wire().target(voucher_series="B").check()
    assert said["company"] == "Bakeriet på Røa AS" and said["voucher_series"] == "B (Bilagsbro)"
    today = dt.date.today()
    if today.year in (2025, 2026):
        assert said["facts"]["fiscal_year_start"] == f"{today.year}-01-01"


def test_the_rate_limit_is_waited_out() -> None:
    from tests.fortnox.conftest import Wiring

    with FortnoxSandbox(rate_limit=(3, 0.5)) as sandbox:
        wired = Wiring(sandbox)
        wired.sleeps = []
        target = wired.target()

        def sleep(seconds: float) -> None:
            wired.sleeps.append(seconds)
            time.sleep(min(seconds, 0.5))
        target.context.sleep = sleep
        target.deliver(_voucher("FART-1"))
        wired.close()
    assert len(sandbox.company.vouchers) == 1 and wired.sleeps  # 429s came, were waited out, nothing doubled


@pytest.mark.parametrize("honours_dates", [True, False])
def test_find_is_right_whether_or_not_fortnox_honours_the_date_filter(
        sandbox: FortnoxSandbox, wire: Callable[..., Any], honours_dates: bool) -> None:
    sandbox.company.honours_dates = honours_dates
    wired = wire()
    target = wired.target()
    for i in range(5):
        target.deliver(_voucher(f"DAG-{i}", date=f"2026-11-0{i + 1}"))
    found = target.find("DAG-3")
    assert found is not None and found.details["voucher_number"] == 4 and "duplicates" not in found.details
    assert target.find("DAG-9") is None  # never noted: Fortnox is not even asked
