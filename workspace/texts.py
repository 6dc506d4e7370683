"""The workspace's words in bokmål (the default) and English, and Norwegian formats for amounts and dates.

Templates say `t("key")`; a key missing in English falls back to bokmål, one missing in both shows itself, so a
forgotten text is seen on the page rather than hidden. Numbers follow Norwegian use in both languages: a space
between thousands, a decimal comma, "kr" after (1 234,50 kr), dates as 21.11.2026.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

LANGUAGES = ("nb", "en")
NBSP = "\u00a0"

TEXTS: dict[str, dict[str, str]] = {
    "nb": {
        "app": "Bilagsbro", "skip": "Hopp til innholdet", "sign_in": "Logg inn", "sign_out": "Logg ut",
        "email": "E-post", "password": "Passord", "code": "Engangskode (6 siffer)", "continue": "Fortsett",
        "totp_title": "Tofaktorkode", "totp_help": "Skriv inn koden fra autentiseringsappen din.",
        "enroll_title": "Sett opp tofaktor", "enroll_help": "Organisasjonen krever tofaktor for eiere. Legg inn "
        "hemmeligheten under i autentiseringsappen din, og skriv inn koden den viser.",
        "secret": "Hemmelighet", "bad_login": "Feil e-post eller passord.",
        "locked": "For mange feilede forsøk. Kontoen er låst en stund; prøv igjen senere eller be om ny lenke.",
        "throttled": "For mange feilede forsøk fra denne adressen. Vent litt og prøv igjen.",
        "bad_code": "Koden stemmer ikke (eller er brukt før).", "clients": "Klienter", "audit": "Revisjonslogg",
        "users": "Brukere og roller", "language": "Språk", "english": "English", "norwegian": "Norsk",
        "search": "Søk", "filter_system": "Regnskapssystem", "filter_health": "Tilstand", "all": "Alle",
        "client": "Klient", "system": "Regnskapssystem", "sources": "Kilder", "health": "Tilstand",
        "blocked": "Stoppet", "failed": "Feilet", "last_delivery": "Siste levering", "none": "Ingen",
        "healthy": "I orden", "attention": "Trenger tilsyn", "not_connected": "Ikke tilkoblet",
        "untested": "Ikke testet", "company": "Selskap", "org_number": "Organisasjonsnummer", "name": "Navn",
        "fiscal_year_start": "Regnskapsåret starter (måned)", "vat_term": "Mva-termin", "period_type": "Periodetype",
        "nxt_customers": "Kundenumre i Business NXT", "save": "Lagre", "connection": "Regnskapssystem",
        "test_connection": "Test tilkoblingen", "last_test": "Siste test", "passed": "Grønt", "failed_test": "Rødt",
        "api_keys": "API-nøkler", "issue_key": "Lag ny nøkkel", "revoke": "Trekk tilbake", "rotate": "Bytt",
        "label": "Merkelapp", "state": "Status", "created": "Laget", "new_key": "Ny nøkkel (vises bare nå)",
        "sftp": "SFTP-mappe", "omnium": "Omnium", "history": "Historikk", "field_map": "Feltkart",
        "documents": "Dokumenter", "reference": "Referanse", "type": "Type", "status": "Status",
        "received": "Mottatt", "date": "Dato", "amount": "Beløp", "next_page": "Neste side",
        "document": "Dokument", "steps": "Stegene", "original": "Originalen", "shared_form": "Felles form",
        "payload": "Det som sendes", "exchanges": "Forespørsler og svar", "resend": "Send på nytt",
        "retry": "Prøv igjen", "reason": "Begrunnelse", "reason_help": "Hvorfor? Lagres i revisjonsloggen.",
        "force": "Send selv om systemet har det fra før (slettet der)", "who": "Hvem", "when": "Når",
        "what": "Hva", "why": "Hvorfor", "role": "Rolle", "roles": "Roller", "add_user": "Ny bruker",
        "org_owner": "Eier av organisasjonen", "set_role": "Sett rolle", "no_role": "Ingen tilgang",
        "owner": "Eier", "accountant": "Regnskapsfører", "viewer": "Lesetilgang", "saved": "Lagret.",
        "reset_title": "Nytt passord", "new_password": "Nytt passord (minst 12 tegn)",
        "reset_invalid": "Lenken er ugyldig, brukt eller utløpt. Be om en ny.", "reset_done": "Passordet er byttet. "
        "Logg inn med det nye.", "require_totp": "Krev tofaktor for eiere", "organisation": "Organisasjon",
        "not_found": "Finnes ikke", "not_found_help": "Siden finnes ikke, eller du har ikke tilgang til den.",
        "forbidden": "Ikke tillatt", "forbidden_help": "Rollen din gir ikke lov til dette.",
        "csrf": "Skjemaet var utløpt. Last siden på nytt og prøv igjen.", "mod11": "Organisasjonsnummeret er ikke "
        "gyldig (kontrollsiffer, MOD11).", "at": "Tidspunkt", "check_of": "Tilkoblet som", "two_factor": "Tofaktor",
        "two_factor_on": "på", "two_factor_off": "av", "monthly": "Månedlig", "bimonthly": "Annenhver måned",
        "yearly": "Årlig", "nothing_yet": "Ingenting ennå.", "sent_again": "Sendt på nytt.",
        "retried": "Sendt til ny behandling.", "field": "Felt", "how": "Hvordan", "back": "Tilbake",
        "shown_once": "Kopier nøkkelen nå: den lagres bare som hash og kan ikke vises igjen.",
        "user_added": "Brukeren er lagt til. Send denne engangslenken for å sette passord:",
        "setup_two_factor": "Sett opp tofaktor", "problems": "Problemer",
    },
    "en": {
        "skip": "Skip to content", "sign_in": "Sign in", "sign_out": "Sign out", "email": "E-mail",
        "password": "Password", "code": "One-time code (6 digits)", "continue": "Continue",
        "totp_title": "Two-factor code", "totp_help": "Enter the code from your authenticator app.",
        "enroll_title": "Set up two-factor", "enroll_help": "Your organisation requires two-factor for owners. Add "
        "the secret below to your authenticator app and enter the code it shows.", "secret": "Secret",
        "bad_login": "Wrong e-mail or password.", "locked": "Too many failed attempts. The account is locked for a "
        "while; try again later or ask for a reset link.", "throttled": "Too many failed attempts from this address. "
        "Wait a little and try again.", "bad_code": "The code does not match (or was used before).",
        "clients": "Clients", "audit": "Audit log", "users": "Users and roles", "language": "Language",
        "search": "Search", "filter_system": "Accounting system", "filter_health": "Health", "all": "All",
        "client": "Client", "system": "Accounting system", "sources": "Sources", "health": "Health",
        "blocked": "Blocked", "failed": "Failed", "last_delivery": "Last delivery", "none": "None",
        "healthy": "Healthy", "attention": "Needs attention", "not_connected": "Not connected", "untested": "Not tested",
        "company": "Company", "org_number": "Organisation number", "name": "Name",
        "fiscal_year_start": "Fiscal year starts (month)", "vat_term": "VAT term", "period_type": "Period type",
        "nxt_customers": "Business NXT customer numbers", "save": "Save", "connection": "Accounting system",
        "test_connection": "Test the connection", "last_test": "Last test", "passed": "Green", "failed_test": "Red",
        "api_keys": "API keys", "issue_key": "Issue a new key", "revoke": "Revoke", "rotate": "Rotate",
        "label": "Label", "state": "State", "created": "Created", "new_key": "New key (shown only now)",
        "sftp": "SFTP folder", "history": "History", "field_map": "Field map", "documents": "Documents",
        "reference": "Reference", "type": "Type", "status": "Status", "received": "Received", "date": "Date",
        "amount": "Amount", "next_page": "Next page", "document": "Document", "steps": "The steps",
        "original": "The original", "shared_form": "Shared form", "payload": "What is sent",
        "exchanges": "Requests and responses", "resend": "Resend", "retry": "Retry", "reason": "Reason",
        "reason_help": "Why? Kept in the audit log.", "force": "Send even if the system holds it (deleted there)",
        "who": "Who", "when": "When", "what": "What", "why": "Why", "role": "Role", "roles": "Roles",
        "add_user": "New user", "org_owner": "Owner of the organisation", "set_role": "Set role",
        "no_role": "No access", "owner": "Owner", "accountant": "Accountant", "viewer": "Viewer", "saved": "Saved.",
        "reset_title": "New password", "new_password": "New password (at least 12 characters)",
        "reset_invalid": "The link is invalid, used or expired. Ask for a new one.",
        "reset_done": "The password is changed. Sign in with the new one.",
        "require_totp": "Require two-factor for owners", "organisation": "Organisation", "not_found": "Not found",
        "not_found_help": "The page does not exist, or you have no access to it.", "forbidden": "Not allowed",
        "forbidden_help": "Your role does not allow this.", "csrf": "The form had expired. Reload the page and "
        "try again.", "mod11": "The organisation number is not valid (check digit, MOD11).", "at": "At",
        "check_of": "Connected as", "two_factor": "Two-factor", "two_factor_on": "on", "two_factor_off": "off",
        "monthly": "Monthly", "bimonthly": "Every two months", "yearly": "Yearly", "nothing_yet": "Nothing yet.",
        "sent_again": "Sent again.", "retried": "Sent for processing again.", "field": "Field", "how": "How",
        "back": "Back", "shown_once": "Copy the key now: only its hash is kept and it cannot be shown again.",
        "user_added": "The user is added. Send this one-time link to set a password:",
        "setup_two_factor": "Set up two-factor", "problems": "Problems",
    },
}


def _merge() -> None:
    """The words of pages kept in their own modules (workspace/texts_pages.py), and the trace's steps as `step_…`."""
    from workspace.texts_pages import PAGES, STEPS

    for lang in LANGUAGES:
        TEXTS[lang].update(PAGES[lang])
        TEXTS[lang].update({f"step_{name}": word for name, word in STEPS[lang].items()})


_merge()


def text(lang: str, key: str) -> str:
    return TEXTS.get(lang, {}).get(key) or TEXTS["nb"].get(key) or f"[{key}]"


def money(value: Any, currency: str = "kr") -> str:
    """1234.5 → '1 234,50 kr' (no-break spaces, so an amount never wraps)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    sign = "-" if amount < 0 else ""
    whole, _, cents = f"{abs(amount):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{NBSP.join(groups)},{cents}{NBSP}{currency}" if currency else f"{sign}{NBSP.join(groups)},{cents}"


def date(value: Any) -> str:
    """'2026-11-21' or a datetime → '21.11.2026'."""
    if not value:
        return ""
    try:
        moment = value if isinstance(value, dt.date) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        try:
            moment = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    return f"{moment.day:02d}.{moment.month:02d}.{moment.year}"


def moment(value: Any) -> str:
    """An ISO timestamp → '21.11.2026 14:03' in Norwegian time (Europe/Oslo)."""
    from zoneinfo import ZoneInfo

    if not value:
        return ""
    try:
        at = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if at.tzinfo is not None:
        at = at.astimezone(ZoneInfo("Europe/Oslo"))
    return f"{date(at)} {at:%H:%M}"
