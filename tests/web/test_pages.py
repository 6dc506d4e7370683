"""The workspace's Problems, Rules and Dry-run pages on the in-memory ports (tests/web/support.py's world; in a real
browser on Azurite and the Tripletex sandbox: tests/browser/test_workspace_pages.py): problems grouped by cause with
the fix at hand and a checked, audited group retry; rules versioned, previewed, saved with If-Match (a stale edit is
a 409 with the diff) and rolled back; a dry run of an uploaded file that keeps nothing; the trace's steps in bokmål
and English; a document's original as a download named per RFC 6266/5987."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipeline import rule_versions as versions
from pipeline.problem_retry import retries
from pipeline.problems import groups
from pipeline.records.names import QUEUE_TRANSLATED, TABLE_SESSIONS
from tests.unit.test_inflight import drain
from tests.unit.test_problem_groups import STATE
from tests.unit.test_problem_groups import voucher as regnskap_voucher
from tests.web.support import World, world
from workspace import audit

CAUSE = "regnskap.missing-account.3999"


@pytest.fixture
def w() -> World:
    built = world()
    registry_on_regnskap(built)
    return built


def registry_on_regnskap(w: World) -> None:
    """a1 on the accounting system that lacks 3999 (its blocked voucher met it), so a retry asks it again."""
    from pipeline.records.tenants import TenantRegistry

    registry = TenantRegistry(w.stores.tables)
    registry.save(registry.get(w.a1).model_copy(update={"target": "regnskap", "target_settings": {}}))


def text(answer: Any) -> str:
    return answer.encoded().decode("utf-8")


def visible(html: str) -> str:
    """The page's text without tags, as a person reads it."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def sent_on(w: World, answer: Any) -> None:
    drain(w.stores, w.conns, QUEUE_TRANSLATED, answer.messages.get(QUEUE_TRANSLATED, []))


def entries(w: World) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(e) for e in audit.page(w.stores.tables, w.org_a)[0]]


def test_problems_are_grouped_by_cause_in_bokmal_with_the_fix_at_hand_and_a_viewer_cannot_retry(w: World) -> None:
    page = w.browser("accountant").get(f"clients/{w.a1}/problems")
    assert page.status == 200
    html = text(page)
    assert "Konto 3999 finnes ikke i regnskap – <span class=\"count\">1</span>" in html
    assert f'href="/api/app/clients/{w.a1}/rules?add=account_map&amp;key=3999#editor"' in html
    assert "Legg til en kontoregel for 3999" in html and "eller rett det i regnskap: kontoplanen" in html
    assert f'action="/api/app/clients/{w.a1}/problems/{CAUSE}/retry"' in html
    english = w.browser("accountant").get(f"clients/{w.a1}/problems", lang="en")
    assert english.status == 303  # the switch, remembered by its cookie
    viewer = w.browser("viewer").get(f"clients/{w.a1}/problems")
    assert viewer.status == 200 and "Konto 3999 finnes ikke" in text(viewer) and "/retry\"" not in text(viewer)
    cause = w.browser("viewer").get(f"clients/{w.a1}/problems/{CAUSE}")
    assert cause.status == 200 and "STOPPET-ÆØÅ-3" in text(cause) and "lines[1].account" in text(cause)
    assert w.browser("viewer").get(f"clients/{w.a1}/problems/regnskap.missing-account.4000").status == 404


def test_the_problems_of_every_client_show_only_the_clients_the_user_may_see(w: World) -> None:
    owner = text(w.browser("owner").get("problems"))
    assert f'data-client="{w.a1}" data-cause="{CAUSE}"' in owner and "Fjellbakeriet" in owner
    assert "Konto 3999 finnes ikke i regnskap" in owner
    no_role = w.browser("no_role").get("problems")  # a role on a2 only: a1's problems are not theirs
    assert no_role.status == 200 and "Fjellbakeriet" not in text(no_role) and CAUSE not in text(no_role)
    other = w.browser("other_org").get("problems")
    assert other.status == 200 and "STOPPET" not in text(other) and "Fjellbakeriet" not in text(other)


def test_a_group_retry_checks_each_document_first_then_delivers_after_the_rule_and_is_audited(w: World) -> None:
    browser = w.browser("accountant")
    browser.get(f"clients/{w.a1}/problems")
    refused = browser.post(f"clients/{w.a1}/problems/{CAUSE}/retry", {"reason": ""})
    assert refused.status == 400 and not refused.messages
    # Retried before the fix: checked against the system, still there, left as it is and said so.
    still = browser.post(f"clients/{w.a1}/problems/{CAUSE}/retry", {"reason": "prøver før regelen"})
    assert still.status == 200 and not any(still.messages.values())
    assert "0 sendt på nytt, 1 står fortsatt fast." in visible(text(still))
    assert 'data-outcome="still_there"' in text(still) and "account 3999 does not exist in Regnskap" in text(still)
    # The fix at hand: the rules page with a row for 3999, filled in and saved, then the retry.
    rules = browser.get(f"clients/{w.a1}/rules", add="account_map", key="3999")
    assert 'name="account_map.0.from" id="account_map-0-from" value="3999"' in text(rules)
    saved = browser.post(f"clients/{w.a1}/rules", {"based_on": "1", "reason": "3999 føres på 3000",
                                                   "account_map.0.from": "3999", "account_map.0.to": "3000",
                                                   "account_map.1.from": "3001", "account_map.1.to": "3000"})
    assert saved.status == 303, text(saved)[:500]
    browser.get(f"clients/{w.a1}/problems")
    done = browser.post(f"clients/{w.a1}/problems/{CAUSE}/retry", {"reason": "kontoen er mappet – prøver igjen"})
    assert done.status == 200 and "1 sendt på nytt, 0 står fortsatt fast." in visible(text(done))
    sent_on(w, done)
    assert "STOPPET-ÆØÅ-3" in STATE["posted"] and groups(w.stores, w.a1) == []
    audited = [e for e in entries(w) if e["action"] == "problems retried"]
    assert [e["why"] for e in audited] == ["kontoen er mappet – prøver igjen", "prøver før regelen"]
    assert audited[0]["who"] == w.users["accountant"] and audited[0]["detail"]["counts"] == {"resubmitted": 1}
    [latest, first] = retries(w.stores, w.a1)
    assert latest["by"] == f"workspace {w.users['accountant']}" and latest["counts"] == {"resubmitted": 1}
    assert first["counts"] == {"still_there": 1}
    page = text(browser.get(f"clients/{w.a1}/problems"))
    assert 'id="no-problems"' in page and "kontoen er mappet – prøver igjen" in page  # the group's audit row


def test_the_rules_preview_says_which_blocked_documents_would_go_through_and_saves_nothing(w: World) -> None:
    browser = w.browser("accountant")
    browser.get(f"clients/{w.a1}/rules")
    before = {k: v for k, v in w.stores.tables.rows.items() if k[0] != TABLE_SESSIONS}
    shown = browser.post(f"clients/{w.a1}/rules/preview", {"based_on": "1", "reason": "",
                                                           "account_map.0.from": "3999", "account_map.0.to": "3000"})
    assert shown.status == 200, text(shown)[:500]
    page = text(shown)
    assert "1 av de stoppede dokumentene ville gått gjennom" in page
    assert 'data-verdict="now_passes"' in page and "STOPPET-ÆØÅ-3" in page
    assert 'data-change="added" data-rule="account_map" data-key="3999"' in page
    assert 'data-change="removed" data-rule="account_map" data-key="3001"' in page  # emptied row: removed
    assert 'value="3999"' in page  # the edit is kept in the editor, to save
    assert {k: v for k, v in w.stores.tables.rows.items() if k[0] != TABLE_SESSIONS} == before


def test_a_stale_edit_is_a_409_with_what_changed_meanwhile_and_saving_again_works(w: World) -> None:
    kari, ola = w.browser("accountant"), w.browser("owner")
    kari.get(f"clients/{w.a1}/rules")
    ola.get(f"clients/{w.a1}/rules")
    first = ola.post(f"clients/{w.a1}/rules", {"based_on": "1", "reason": "mva 86 er 3",
                                               "account_map.0.from": "3001", "account_map.0.to": "3000",
                                               "vat_map.0.from": "86", "vat_map.0.to": "3"})
    assert first.status == 303
    stale = kari.post(f"clients/{w.a1}/rules", {"based_on": "1", "reason": "3999 føres på 3000",
                                                "account_map.0.from": "3001", "account_map.0.to": "3000",
                                                "account_map.1.from": "3999", "account_map.1.to": "3000"})
    assert stale.status == 409
    page = text(stale)
    assert "versjon 2 er i kraft, endringen din bygget på versjon 1" in page
    assert re.search(r'id="diff-meanwhile".*data-change="added" data-rule="vat_map" data-key="86"', page, re.S)
    assert re.search(r'id="diff-yours".*data-change="added" data-rule="account_map" data-key="3999"', page, re.S)
    assert 'name="based_on" value="2"' in page and 'value="3999"' in page  # the edit kept, now on version 2
    tenant, current = versions.in_force(w.stores.tables, w.a1)
    assert current is not None and current.version == 2 and "3999" not in tenant.rules.account_map
    again = kari.post(f"clients/{w.a1}/rules", {"based_on": "2", "reason": "3999 føres på 3000",
                                                "account_map.0.from": "3001", "account_map.0.to": "3000",
                                                "account_map.1.from": "3999", "account_map.1.to": "3000",
                                                "vat_map.0.from": "86", "vat_map.0.to": "3"})
    assert again.status == 303 and again.headers["Location"].endswith("saved=3")
    tenant, current = versions.in_force(w.stores.tables, w.a1)
    assert tenant.rules.account_map == {"3001": "3000", "3999": "3000"} and tenant.rules.vat_map == {"86": "3"}
    assert current is not None and current.by == f"workspace {w.users['accountant']}"
    [changed] = [e for e in entries(w) if e["action"] == "rules changed" and e["who"] == w.users["accountant"]]
    assert changed["why"] == "3999 føres på 3000" and changed["detail"]["summary"] == {"added": 1}


def test_the_editor_takes_per_customer_exceptions_and_refuses_half_rows_and_unknown_grouping_codes(w: World) -> None:
    browser = w.browser("owner")
    browser.get(f"clients/{w.a1}/rules")
    saved = browser.post(f"clients/{w.a1}/rules", {
        "based_on": "1", "reason": "eksportkunden Ærø", "account_map.0.from": "3001", "account_map.0.to": "3000",
        "customers.0.key": "10042", "customers.0.kind": "account", "customers.0.from": "3000",
        "customers.0.to": "3100", "customers.0.note": "eksportkunde på Ærø", "customers.1.key": "10042",
        "customers.1.kind": "vat", "customers.1.from": "3", "customers.1.to": "52", "customers.1.note": ""})
    assert saved.status == 303, text(saved)[:800]
    tenant, _ = versions.in_force(w.stores.tables, w.a1)
    exception = tenant.rules.customers["10042"]
    assert exception.account_map == {"3000": "3100"} and exception.vat_map == {"3": "52"}
    assert exception.note == "eksportkunde på Ærø"
    page = text(browser.get(f"clients/{w.a1}/rules"))
    assert 'name="customers.1.to" id="customers-1-to" value="52"' in page and "eksportkunde på Ærø" in page
    half = browser.post(f"clients/{w.a1}/rules", {"based_on": "2", "reason": "halv rad",
                                                  "account_map.0.from": "3001", "account_map.0.to": ""})
    assert half.status == 422 and "account_map: 3001 → …" in text(half)
    bad = browser.post(f"clients/{w.a1}/rules", {"based_on": "2", "reason": "feil kode",
                                                 "grouping_codes.0.from": "3000", "grouping_codes.0.to": "9999x"})
    assert bad.status == 422 and "grouping_codes" in text(bad)
    assert versions.in_force(w.stores.tables, w.a1)[1].version == 2  # type: ignore[union-attr]


def test_rollback_is_a_new_version_with_a_reason_and_the_version_page_shows_its_diff(w: World) -> None:
    browser = w.browser("accountant")
    browser.get(f"clients/{w.a1}/rules")
    browser.post(f"clients/{w.a1}/rules", {"based_on": "1", "reason": "3999 føres på 3000",
                                           "account_map.0.from": "3999", "account_map.0.to": "3000"})
    diff = browser.get(f"clients/{w.a1}/rules/versions/2")
    page = text(diff)
    assert diff.status == 200 and "Versjon 2 mot 1" in page
    assert 'data-change="added" data-rule="account_map" data-key="3999"' in page
    assert 'data-change="removed" data-rule="account_map" data-key="3001"' in page
    assert w.browser("viewer").post(f"clients/{w.a1}/rules/versions/1/rollback",
                                    {"based_on": "2", "reason": "leser vil tilbake"}).status == 403
    no_reason = browser.post(f"clients/{w.a1}/rules/versions/1/rollback", {"based_on": "2", "reason": ""})
    assert no_reason.status == 400
    back = browser.post(f"clients/{w.a1}/rules/versions/1/rollback", {"based_on": "2", "reason": "3999 var feil"})
    assert back.status == 303
    shown = text(browser.follow(back))
    assert "Reglene fra versjon 1 gjelder igjen, lagret som versjon 3." in shown
    assert 'data-version="3"' in shown and "Tilbakestilt (tilbake til versjon 1)" in shown
    tenant, current = versions.in_force(w.stores.tables, w.a1)
    assert tenant.rules.account_map == {"3001": "3000"} and current is not None and current.rollback_of == 1
    assert current.reason == "3999 var feil" and current.version == 3
    stale = browser.post(f"clients/{w.a1}/rules/versions/2/rollback", {"based_on": "2", "reason": "gammel side"})
    assert stale.status == 409 and "versjon 3 er i kraft" in text(stale)
    [rolled] = [e for e in entries(w) if e["action"] == "rules rolled back"]
    assert rolled["why"] == "3999 var feil" and rolled["detail"]["rollback_of"] == 1


GBAT10 = (
    "GBAT10;1;20251110;1;11;2025;1920;;1250.00;;;;;;;;;;;;Kortsalg Ærøy;;;;;;;;;\r\n"
    "GBAT10;1;20251110;1;11;2025;3000;3;-1000.00;;;;;;;;;;;;Salg blåbær og søtsaker;;;;;;T;-1250.00;;\r\n"
    "GBAT10;1;20251110;1;11;2025;2700;;-250.00;;;;;;;;;;;;MVA (beregnes av mottaker);;;;;;F;;;\r\n"
    "GBAT10;2;20251111;1;11;2025;1920;;500.00;;;;;;;;;;;;Kortsalg Ørland;;;;;;;;;\r\n"
    "GBAT10;2;20251111;1;11;2025;3999;3;-400.00;;;;;;;;;;;;Salg på Åsen;;;;;;T;-500.00;;\r\n"
    "GBAT10;2;20251111;1;11;2025;2700;;-100.00;;;;;;;;;;;;MVA (beregnes av mottaker);;;;;;F;;;\r\n"
).encode("cp1252")


def test_a_dry_run_of_an_uploaded_gbat10_file_shows_totals_problems_and_payloads_with_its_text_and_keeps_nothing(
        w: World) -> None:
    from pipeline.records.tenants import TenantRegistry

    registry = TenantRegistry(w.stores.tables)  # the client's GBAT10 options: its till's VAT codes are SAF-T's
    registry.save(registry.get(w.a1).model_copy(update={"sources": {"gbat10": {"vat_map": {"3": "3"}}}}))
    browser = w.browser("viewer")  # a dry run changes nothing: a viewer may run one
    form = browser.get(f"clients/{w.a1}/dry-run")
    assert form.status == 200 and 'enctype="multipart/form-data"' in text(form)
    before = ({k: v for k, v in w.stores.tables.rows.items() if k[0] != TABLE_SESSIONS}, dict(w.stores.blobs.blobs))
    answer = browser.post(f"clients/{w.a1}/dry-run", {"format": "gbat10", "offset": "1"},
                          files={"file": ("kasse-november-Ærøy.txt", GBAT10)})
    assert answer.status == 200, text(answer)[:800]
    page = text(answer)
    assert "Kortsalg Ærøy" in page and "Salg på Åsen" in page  # cp1252 in, æøå intact out
    assert '<dd id="file-name">kasse-november-Ærøy.txt</dd>' in page and '<dd id="count">2</dd>' in page
    assert re.search(r'data-account="1920"><td>1920</td><td class="num">2</td><td class="num">1\xa0750,00\xa0kr', page)
    assert re.search(r'data-vat-code="3"><td>3</td><td class="num">2</td><td class="num">-1\xa0750,00\xa0kr', page)
    assert "<td>kasse-november-Ærøy.txt</td><td>4</td><td>2</td><td><code>lines[1].account</code></td>" \
           "<td>account 3999 does not exist in Regnskap</td>" in page
    assert "&#34;konti&#34;" in page or '"konti"' in page  # the payload Regnskap would get
    assert ({k: v for k, v in w.stores.tables.rows.items() if k[0] != TABLE_SESSIONS},
            dict(w.stores.blobs.blobs)) == before
    assert not any(answer.messages.values())
    empty = browser.post(f"clients/{w.a1}/dry-run", {"format": "gbat10"}, files={"file": ("", b"")})
    assert empty.status == 400 and "Velg en fil." in text(empty)


def test_a_large_file_shows_a_page_of_documents_with_the_totals_of_all_and_pages_on(w: World) -> None:
    browser = w.browser("accountant")
    browser.get(f"clients/{w.a1}/dry-run")
    data = json.dumps([regnskap_voucher(f"V-{n:03d}") for n in range(120)], ensure_ascii=False).encode("utf-8")
    first = text(browser.post(f"clients/{w.a1}/dry-run", {"format": "shared-form", "offset": ""},
                              files={"file": ("mange.json", data)}))
    assert "Dokument 1–50 av 120" in first and first.count('data-reference="V-') == 50
    assert 'data-reference="V-000"' in first and 'data-reference="V-050"' not in first
    assert re.search(r'data-account="1920"><td>1920</td><td class="num">120</td><td class="num">12\xa0000,00', first)
    assert 'name="offset" type="number" min="1" value="51"' in first  # the next page: the same file again
    third = text(browser.post(f"clients/{w.a1}/dry-run", {"format": "shared-form", "offset": "101"},
                              files={"file": ("mange.json", data)}))
    assert "Dokument 101–120 av 120" in third and third.count('data-reference="V-') == 20


def test_the_trace_steps_are_in_bokmal_by_default_and_english_on_the_switch(w: World) -> None:
    blocked = next(d for d in groups_documents(w))
    browser = w.browser("viewer")
    page = visible(text(browser.get(f"clients/{w.a1}/documents/{blocked}")))
    assert "Status: Stoppet" in page and "Mottatt" in page and "Tilpasset" not in page
    assert re.search(r"Mottatt .*Oversatt .*Stoppet", page)
    browser.get(f"clients/{w.a1}/documents/{blocked}", lang="en")
    english = text(browser.request("GET", f"clients/{w.a1}/documents/{blocked}", headers={
        "cookie": f"bb_session={browser.cookie}; bb_lang=en"}))
    assert re.search(r"Received .*Translated .*Blocked", visible(english)) and "Status: Blocked" in visible(english)
    history = visible(text(browser.get(f"clients/{w.a1}/documents")))
    assert "Levert" in history and "Stoppet" in history


def groups_documents(w: World) -> list[str]:
    from pipeline.records import problems as index

    rows, _ = index.affected(w.stores.tables, w.a1, CAUSE, limit=10)
    return [str(r["Id"]) for r in rows]


def test_a_documents_original_is_a_download_under_its_own_name_with_aeoeaa(w: World) -> None:
    from api import vendor as api
    from pipeline.records.names import QUEUE_RECEIVED
    from pipeline.records.tenants import TenantRegistry
    from tests.unit.test_history import call

    key = TenantRegistry(w.stores.tables).issue_key(w.a1)
    data = ("VoucherNo,VoucherDate,VoucherTypeNo,VoucherText,DepNo,ProjectNo,DebitAccountNo,CreditAccountNo,VATCode,"
            "Amount,DueDate,KID,SuppliersInvoiceNo,SAFTStdVatCode,SAFTStdVatCodeCredit\n"
            "700,20261120,1,Kontantsalg Ålesund,,,1920,3000,,1250.00,,,,,3\n").encode("cp1252")
    received = call(api.post_file, w.stores, w.conns, key, body=data,
                    query={"format": "visma-global", "name": "eksport Ålesund – blåbær.csv"})
    drain(w.stores, w.conns, QUEUE_RECEIVED, received.messages[QUEUE_RECEIVED])
    from pipeline.records import documents

    [found] = [d for d in documents.search(w.stores.tables, w.a1, documents.Query(limit=50))[0]
               if d.get("reference") == "700"]
    browser = w.browser("viewer")
    page = text(browser.get(f"clients/{w.a1}/documents/{found['id']}"))
    assert f'href="/api/app/clients/{w.a1}/documents/{found["id"]}/original" id="download-original" download' in page
    answer = browser.get(f"clients/{w.a1}/documents/{found['id']}/original")
    assert answer.status == 200 and answer.encoded() == data  # the bytes as received (Windows-1252)
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="eksport__lesund___bl_b_r.csv"')
    assert "filename*=UTF-8''eksport%20%C3%85lesund%20%E2%80%93%20bl%C3%A5b%C3%A6r.csv" in disposition
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert w.browser("other_org").get(f"clients/{w.a1}/documents/{found['id']}/original").status == 404
    assert w.browser("accountant").get(f"clients/{w.a1}/documents/d-nothing/original").status == 404


def test_retry_of_a_group_is_refused_to_a_viewer_and_changes_nothing(w: World) -> None:
    before = {k: v for k, v in w.stores.tables.rows.items() if k[0] != TABLE_SESSIONS}
    viewer = w.browser("viewer")
    assert viewer.post(f"clients/{w.a1}/problems/{CAUSE}/retry", {"reason": "leser prøver"}).status == 403
    assert {k: v for k, v in w.stores.tables.rows.items() if k[0] != TABLE_SESSIONS} == before


def test_each_kind_of_cause_links_its_own_fix_vat_code_rule_reconnect_and_the_customer_register(w: World) -> None:
    from pipeline.problems import Group
    from pipeline.records.tenants import TenantRegistry
    from workspace.pages_problems import shown

    key = TenantRegistry(w.stores.tables).issue_key(w.a1)
    STATE["refuse"] = True  # the accounting system refuses the credentials: the connection is down
    post(w.stores, w.conns, key, [regnskap_voucher("AVVIST-1")])
    STATE["refuse"] = False
    post(w.stores, w.conns, key, [regnskap_voucher("MVA-86", vat="86")])
    page = text(w.browser("accountant").get(f"clients/{w.a1}/problems"))
    assert "Mva-kode 86 er ukjent i regnskap" in page
    assert f'href="/api/app/clients/{w.a1}/rules?add=vat_map&amp;key=86#editor"' in page
    assert "regnskap avviste påloggingen" in page
    assert f'<a href="/api/app/clients/{w.a1}#connection-title" class="fix" data-fix="reconnect">' \
           "Koble til regnskap på nytt</a>" in page
    vat_rules = text(w.browser("accountant").get(f"clients/{w.a1}/rules", add="vat_map", key="86"))
    assert 'name="vat_map.0.from" id="vat_map-0-from" value="86"' in vat_rules
    customer = Group("tripletex.missing-customer.~0a1b2c3d4e5f", "missing-customer", "tripletex",
                     {"field": "customer", "value": "Ærlig Kunde AS"}, "customer Ærlig Kunde AS does not exist")
    from workspace.router import Visit

    visit = Visit(w.stores, w.conns, None, {}, {}, None, None, "nb")  # type: ignore[arg-type]
    found = shown(visit, w.a1, customer)
    # the system by its descriptor's title (this world's registry has the descriptors; "regnskap" above has none,
    # so it is named by its key)
    assert found["headline"] == "Kunden finnes ikke i Tripletex"
    assert found["fix"] == {"action": "open", "label": "Rett det i Tripletex: kunderegisteret"}


def post(stores: Any, conns: Any, key: str, body: list[dict[str, Any]]) -> None:
    from tests.unit.test_resend import post as posted

    posted(stores, conns, key, body)


def test_an_upload_without_the_forms_csrf_token_is_refused(w: World) -> None:
    browser = w.browser("accountant")
    browser.get(f"clients/{w.a1}/dry-run")
    answer = browser.request("POST", f"clients/{w.a1}/dry-run", {"format": "gbat10"}, csrf=False,
                             files={"file": ("kasse.txt", GBAT10)})
    assert answer.status == 403 and "Kortsalg" not in text(answer)
    forged = browser.request("POST", f"clients/{w.a1}/dry-run", {"format": "gbat10", "csrf": "x" * 43}, csrf=False,
                             files={"file": ("kasse.txt", GBAT10)})
    assert forged.status == 403
