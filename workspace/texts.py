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
        # the connect and switch wizards (workspace/pages_connect.py)
        "connect_title": "Koble til regnskapssystem", "pick_help": "Velg systemet klienten fører regnskapet i.",
        "pick_switch_help": "Velg et annet system for å bytte, eller det samme for å gi nye nøkler.",
        "further_title": "Ekstra tilkobling", "further_help": "Et system ved siden av det klienten leverer til: "
        "bilag kan sendes dit på nytt (f.eks. før et bytte).", "mode_current": "(i bruk nå)",
        "mode_switch": "(bytte)", "mode_connect_title": "koble til", "mode_switch_title": "bytte til dette systemet",
        "mode_further_title": "ekstra tilkobling", "form_help": "Fyll inn det systemet trenger. Tilkoblingen "
        "testes før den lagres; går testen galt, fortsetter klienten som før.", "guide": "veiledning",
        "secret_kept": "En er lagret: la feltet stå tomt for å beholde den.",
        "platform_secret": "Bilagsbros egen, allerede satt opp av oss. Bare et selskap med sin egen integrasjon "
                           "fyller inn sin.", "choose": "Velg …",
        "more_settings": "Flere innstillinger", "test_and_save": "Test og lagre", "show_preview": "Test og vis "
        "hva et bytte betyr", "direct_posting": "Bokfør direkte (ikke kladd)",
        "red_credentials": "Systemet godtok ikke nøklene. Sjekk at de er riktige, for riktig miljø, og at "
        "brukeren har tilgangene veiledningen nevner.", "red_unreachable": "Vi fikk ikke kontakt med systemet. "
        "Sjekk adressen, eller prøv igjen litt senere.", "red_other": "Tilkoblingstesten gikk ikke gjennom.",
        "fix_fields": "Noen felt må rettes.", "use_switch": "Klienten er koblet til et annet system: bruk byttet.",
        "connected": "Tilkoblet: testen er grønn, og innstillingene er lagret.", "switched": "Byttet er gjort. Det "
        "gamle systemet er beholdt som skrivebeskyttet.", "consent_help": "Kunden gir selv tilgang hos systemet: "
        "vi lager en lenke du sender til kunden.", "consent_make": "Lag lenke", "consent_made": "Send denne lenken "
        "til kunden. Når kunden har gitt tilgang, testes tilkoblingen og tas i bruk.",
        "consent_expires": "Gyldig til", "preview_title": "Bytte regnskapssystem", "green_new": "Det nye systemet "
        "svarer, og nøklene virker.", "preview_help": "Slik ville de siste 90 dagenes dokumenter blitt tatt imot "
        "i det nye systemet. Ingenting er sendt.", "checked_docs": "Dokumenter sjekket",
        "would_accept": "Ville blitt tatt imot", "would_refuse": "Ville blitt stoppet", "lacks": "Det nye systemet "
        "mangler", "lacks_nothing": "Ingenting: alt som er brukt finnes i det nye systemet.", "kind": "Slag",
        "value": "Verdi", "examples": "Eksempler", "kind_accounts": "Konto", "kind_vat_codes": "Mva-kode",
        "kind_customers": "Kunde/leverandør", "kind_dimensions": "Dimensjon", "kind_other": "Annet",
        "fields_change": "Felt som blir behandlet annerledes", "switch_now": "Bytt nå", "switch_help": "Det nye "
        "systemet tas i bruk for nye dokumenter. Det gamle beholdes skrivebeskyttet, for oppslag og historikk.",
        "resend_open": "Send den åpne perioden på nytt til det nye systemet", "resend_from": "Dokumenter datert fra",
        "switch_to": "Bytt til", "bad_date": "Datoen må være på formen ÅÅÅÅ-MM-DD.",
        "connect_or_switch": "Koble til eller bytt system", "add_further": "Legg til ekstra tilkobling",
        "further_connections": "Andre tilkoblinger", "mode": "Bruk", "since": "Siden", "remove": "Fjern",
        "pick_company": "Velg selskapet i listen, og test igjen", "required": "Må fylles ut.",
        "read-only": "Skrivebeskyttet", "active": "Aktiv", "health_since": "rødt siden",
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
        "connect_title": "Connect an accounting system", "pick_help": "Pick the system the client keeps its books "
        "in.", "pick_switch_help": "Pick another system to switch, or the same one to give new keys.",
        "further_title": "Further connection", "further_help": "A system beside the one the client delivers to: "
        "documents may be resent there (e.g. before a switch).", "mode_current": "(in use now)",
        "mode_switch": "(switch)", "mode_connect_title": "connect", "mode_switch_title": "switch to this system",
        "mode_further_title": "further connection", "form_help": "Fill in what the system needs. The connection is "
        "tested before it is saved; if the test fails, the client goes on as before.", "guide": "guide",
        "secret_kept": "One is stored: leave the field empty to keep it.",
        "platform_secret": "Bilagsbro's own, already set up by us. Only a company with its own integration gives "
                           "its own.", "choose": "Choose …",
        "more_settings": "More settings", "test_and_save": "Test and save", "show_preview": "Test and show what "
        "a switch means", "direct_posting": "Post directly (no drafts)",
        "red_credentials": "The system did not accept the keys. Check that they are right, for the right "
        "environment, and that the user has the access the guide names.", "red_unreachable": "We could not reach "
        "the system. Check the address, or try again a little later.", "red_other": "The connection test did not "
        "pass.", "fix_fields": "Some fields need fixing.", "use_switch": "The client is connected to another "
        "system: use the switch.", "connected": "Connected: the test is green and the settings are saved.",
        "switched": "Switched. The old system is kept read-only.", "consent_help": "The customer grants access at "
        "the system themselves: we make a link you send them.", "consent_make": "Make the link",
        "consent_made": "Send this link to the customer. Once they grant access, the connection is tested and "
        "taken into use.", "consent_expires": "Valid until", "preview_title": "Switch accounting system",
        "green_new": "The new system answers and the keys work.", "preview_help": "This is how the last 90 days' "
        "documents would be taken in by the new system. Nothing is sent.", "checked_docs": "Documents checked",
        "would_accept": "Would be accepted", "would_refuse": "Would be blocked", "lacks": "The new system lacks",
        "lacks_nothing": "Nothing: everything used exists in the new system.", "kind": "Kind", "value": "Value",
        "examples": "Examples", "kind_accounts": "Account", "kind_vat_codes": "VAT code",
        "kind_customers": "Customer/supplier", "kind_dimensions": "Dimension", "kind_other": "Other",
        "fields_change": "Fields treated differently", "switch_now": "Switch now", "switch_help": "The new system "
        "takes new documents. The old one is kept read-only, for lookups and history.",
        "resend_open": "Resend the open period to the new system", "resend_from": "Documents dated from",
        "switch_to": "Switch to", "bad_date": "The date must be YYYY-MM-DD.",
        "connect_or_switch": "Connect or switch system", "add_further": "Add a further connection",
        "further_connections": "Other connections", "mode": "Use", "since": "Since", "remove": "Remove",
        "pick_company": "Pick the company in the list, and test again", "required": "Required.",
        "read-only": "Read-only", "active": "Active", "health_since": "red since",
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
