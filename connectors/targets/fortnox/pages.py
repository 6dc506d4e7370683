"""The onboarding link's pages, in Norwegian (English on request): what Bilagsbro reads and writes, and outcomes."""

from __future__ import annotations

import html
from typing import Any

from api.http import Response

TEXT: dict[str, dict[str, str]] = {
    "nb": {
        "title": "Koble {company} til Fortnox",
        "intro": "Bilagsbro fører bilagene fra kassa, nettbutikk og andre systemer inn i Fortnox. Når du gir "
                 "tillatelse i Fortnox, kan Bilagsbro:",
        "reads": "<strong>lese</strong> selskapsinformasjon, kontoplan, regnskapsår, bilagsserier, kostnadssteder "
                 "og prosjekter — for å kontrollere hvert bilag før det sendes — og, når dere vil lese regnskapet "
                 "tilbake, bilag med vedlegg, dokumentene i innboksen, kunder og leverandører;",
        "writes": "<strong>skrive</strong> bilag i bilagsserien «{series}», med mva på egne rader.",
        "never": "Bilagsbro leser ikke bankdata og endrer ikke innstillinger.",
        "nodraft": "Fortnox har ikke kladd for bilag: et bilag er bokført i det øyeblikket Bilagsbro oppretter det, "
                   "og rettes med et motbilag.",
        "optin": "Jeg forstår at bilag bokføres direkte i Fortnox",
        "missing": "Kryss av for direkte bokføring for å gå videre.",
        "go": "Gå videre til Fortnox",
        "licence": "Selskapet trenger en Fortnox-lisens som dekker integrasjoner og bokføring; Bilagsbro sjekker "
                   "det straks du har gitt tillatelse.",
        "other": "In English",
        "done": "Fortnox er koblet til",
        "done_text": "Bilagsbro er koblet til {company}. Bilagene bokføres i serien {series}. Regnskapsår: {year}.",
        "link": "Lenken er ugyldig, allerede brukt eller utløpt. Be om en ny påkoblingslenke.",
        "state": "Svaret fra Fortnox passer ikke til denne nettleseren eller lenken. Åpne påkoblingslenken på nytt.",
        "denied": "Du avbrøt i Fortnox, så ingenting er koblet til. Be om en ny lenke når du vil prøve igjen.",
        "exchange": "Fortnox godtok ikke tillatelsen: {detail}",
        "check": "Tillatelsen er gitt, men tilkoblingstesten feilet: {detail}",
        "failed": "Fortnox ble ikke koblet til",
    },
    "en": {
        "title": "Connect {company} to Fortnox",
        "intro": "Bilagsbro carries vouchers from tills, web shops and other systems into Fortnox. When you give "
                 "permission in Fortnox, Bilagsbro may:",
        "reads": "<strong>read</strong> company information, chart of accounts, financial years, voucher series, "
                 "cost centres and projects — to check every voucher before it is sent — and, when you want the books "
                 "read back, vouchers with their documents, the documents in the inbox, customers and suppliers;",
        "writes": "<strong>write</strong> vouchers in the voucher series «{series}», with VAT on rows of its own.",
        "never": "Bilagsbro reads no bank data and changes no settings.",
        "nodraft": "Fortnox has no draft for a voucher: a voucher is booked the moment Bilagsbro creates it, and is "
                   "corrected with a reversing voucher.",
        "optin": "I understand that vouchers are booked directly in Fortnox",
        "missing": "Tick direct posting to go on.",
        "go": "Continue to Fortnox",
        "licence": "The company needs a Fortnox licence that covers integrations and bookkeeping; Bilagsbro checks it "
                   "as soon as you have given permission.",
        "other": "På norsk",
        "done": "Fortnox is connected",
        "done_text": "Bilagsbro is connected to {company}. Vouchers are booked in series {series}. Financial year: {year}.",
        "link": "The link is not valid, already used or expired. Ask for a new onboarding link.",
        "state": "Fortnox's answer does not match this browser or link. Open the onboarding link again.",
        "denied": "You cancelled in Fortnox, so nothing is connected. Ask for a new link to try again.",
        "exchange": "Fortnox did not accept the permission: {detail}",
        "check": "Permission was given, but the connection test failed: {detail}",
        "failed": "Fortnox was not connected",
    },
}


def _page(status: int, lang: str, title: str, body: str) -> Response:
    page = (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<meta name='viewport' content='width=device-width'></head><body><main>"
            f"<h1>{html.escape(title)}</h1>{body}</main></body></html>")
    return Response(status, page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                           "Content-Security-Policy": "default-src 'none'; form-action 'self' *; "
                                                                      "style-src 'unsafe-inline'"},
                    content_type="text/html; charset=utf-8")


def link_page(lang: str, company: str, *, series: str, missing_opt_in: bool = False) -> Response:
    t = TEXT[lang]
    other = "en" if lang == "nb" else "nb"
    warn = f"<p id='missing' role='alert'>{t['missing']}</p>" if missing_opt_in else ""
    body = (f"<p>{t['intro']}</p><ul><li>{t['reads']}</li><li>{t['writes'].format(series=html.escape(series))}</li>"
            f"</ul><p>{t['never']}</p><p id='nodraft'><strong>{t['nodraft']}</strong></p><p>{t['licence']}</p>{warn}"
            f"<form method='post'><input type='hidden' name='lang' value='{lang}'><label><input type='checkbox' "
            f"name='direct_posting' value='yes' id='direct_posting'> {t['optin']}</label><p>"
            f"<button type='submit' id='go'>{t['go']}</button></p></form>"
            f"<p><a href='?lang={other}' id='lang'>{t['other']}</a></p>")
    return _page(200, lang, t["title"].format(company=company), body)


def refused_page(status: int, lang: str, why: str, *, detail: str = "") -> Response:
    t = TEXT[lang]
    return _page(status, lang, t["failed"], f"<p id='why'>{html.escape(t[why].format(detail=detail))}</p>")


def done_page(lang: str, check: dict[str, Any]) -> Response:
    t = TEXT[lang]
    text = t["done_text"].format(company=check.get("company") or "", series=check.get("voucher_series") or "",
                                 year=check.get("financial_year") or "")
    return _page(200, lang, t["done"], f"<p id='done'>{html.escape(text)}</p>")
