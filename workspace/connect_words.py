"""What each accounting system's credentials and settings are called by its customers, in bokmål and English, with
a short "where do I find this" — the connect wizard's labels, written from docs/connect/<system>.md.

Which fields a system has, which are secrets and which are required comes from its descriptor (the registry): this
module only words them. A field without words here shows the descriptor's own label (a secret's `label` and
`where`, a setting's description), so a new setting in a descriptor appears in the wizard without an edit here.
"""

from __future__ import annotations

from typing import Any

# (system, field) → language → (label, where to find it). "*" words a field every system shares.
WORDS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("*", "base_url"): {
        "nb": ("Adresse til API-et", "La stå som den er for produksjon; endres bare for test-miljø eller sandkasse."),
        "en": ("API address", "Leave as it is for production; change it only for a test environment or sandbox.")},
    ("*", "direct_posting"): {
        "nb": ("Bokfør direkte (ikke kladd)", "Uten haken kommer bilagene som kladd som noen ser over og bokfører."),
        "en": ("Post directly (no drafts)", "Unticked, vouchers arrive as drafts that someone reviews and posts.")},
    ("tripletex", "employee_token"): {
        "nb": ("Ansattnøkkel (employee token)", "Tripletex: brukeren → fanen «API-tilgang» → «Ny nøkkel», applikasjon "
               "Bilagsbro. Krever tilleggstjenesten Integrasjoner og tillatelsen «Avansert bilag». Vises bare én gang."),
        "en": ("Employee token", "Tripletex: the user → tab «API-tilgang» → «Ny nøkkel», application Bilagsbro. Needs "
               "the Integrasjoner add-on and the «Avansert bilag» permission. Shown once.")},
    ("tripletex", "consumer_token"): {
        "nb": ("Consumer token (integrasjonens nøkkel)", "Bilagsbros egen nøkkel, fra driftsansvarlig hos oss – ikke "
               "fra Tripletex-kontoen din."),
        "en": ("Consumer token (the integration's)", "Bilagsbro's own token, from our operator – not from your "
               "Tripletex account.")},
    ("tripletex", "company_id"): {
        "nb": ("Klientselskapets id i Tripletex", "0 er brukerens eget selskap. Et regnskapsbyrå skriver "
               "klientselskapets id."),
        "en": ("Client company id in Tripletex", "0 is the user's own company. An accounting firm gives the "
               "client company's id.")},
    ("poweroffice-go", "client_key"): {
        "nb": ("Klientnøkkel", "PowerOffice GO: Innstillinger → Utvidelser → «Legg til utvidelse» → Bilagsbro. "
               "Kopier klientnøkkelen som vises etter aktivering (krever administrator)."),
        "en": ("Client key (klientnøkkel)", "PowerOffice GO: Innstillinger → Utvidelser → «Legg til utvidelse» → "
               "Bilagsbro. Copy the client key shown after activation (needs an administrator).")},
    ("poweroffice-go", "application_key"): {
        "nb": ("Applikasjonsnøkkel (integrasjonens)", "Bilagsbros egen, fra driftsansvarlig hos oss."),
        "en": ("Application key (the integration's)", "Bilagsbro's own, from our operator.")},
    ("poweroffice-go", "subscription_key"): {
        "nb": ("Abonnementsnøkkel (integrasjonens)", "Bilagsbros egen, fra driftsansvarlig hos oss."),
        "en": ("Subscription key (the integration's)", "Bilagsbro's own, from our operator.")},
    ("fiken", "api_token"): {
        "nb": ("API-nøkkel (personlig)", "Fiken: Rediger konto → API → Personlige API-nøkler → «Opprett ny nøkkel». "
               "Krever tilleggstjenesten API."),
        "en": ("API token (personal)", "Fiken: Rediger konto → API → Personlige API-nøkler → «Opprett ny nøkkel». "
               "Needs the API add-on.")},
    ("fiken", "company_slug"): {
        "nb": ("Selskapets navn i Fiken-adressen", "Det som står etter /foretak/ i adressen når du er inne i "
               "selskapet i Fiken, f.eks. fjellbakeriet-as."),
        "en": ("The company's name in Fiken's address", "What follows /foretak/ in the address when you are in the "
               "company in Fiken, e.g. fjellbakeriet-as.")},
    ("business-nxt", "customer_ids"): {
        "nb": ("Kundenummer i Business NXT", "Kundenummeret (Visma.net-kundenummer) byrået har hos Visma. Flere "
               "skilles med komma. Vi viser selskapene de gir tilgang til, så du kan velge."),
        "en": ("Business NXT customer id(s)", "The customer number (Visma.net customer number) the firm has with "
               "Visma. Separate several with commas. We list the companies they reach for you to pick.")},
    ("business-nxt", "client_id"): {
        "nb": ("Integrasjonens klient-id", "Fra Visma Developer Portal; også navnet på Business NXT-brukeren som "
               "står for integrasjonen."),
        "en": ("The integration's client id", "From Visma Developer Portal; also the name of the Business NXT user "
               "that stands for the integration.")},
    ("business-nxt", "client_secret"): {
        "nb": ("Klienthemmelighet", "Visma Developer Portal → integrasjonen → Credentials. Bilagsbros egen, med "
               "mindre byrået har sin egen integrasjon."),
        "en": ("Client secret", "Visma Developer Portal → the integration → Credentials. Bilagsbro's own unless "
               "the firm runs its own integration.")},
    ("business-nxt", "company_no"): {
        "nb": ("Selskap", "Velg selskapet bilagene skal til."), "en": ("Company", "Pick the company to deliver to.")},
    ("business-nxt", "voucher_series"): {
        "nb": ("Bilagsserie", "Bilagsserien buntene skal ha, f.eks. 6."),
        "en": ("Voucher series", "The voucher series of the batches, e.g. 6.")},
    ("xledger", "api_token"): {
        "nb": ("API-token", "Xledger (som domeneadministrator, i enheten det skal leveres til): Administration → "
               "Access Control → GraphQL → API tokens → «Generate New Token». Vises bare én gang."),
        "en": ("API token", "Xledger (as domain administrator, in the entity to deliver to): Administration → Access "
               "Control → GraphQL → API tokens → «Generate New Token». Shown once.")},
    ("finago-office", "username"): {
        "nb": ("API-brukerens innlogging (e-post)", "Brukeren dere har laget for Bilagsbro i Finago Office."),
        "en": ("The API user's login (e-mail)", "The user you made for Bilagsbro in Finago Office.")},
    ("finago-office", "password"): {
        "nb": ("Passord for API-brukeren", "Passordet til brukeren dere laget for Bilagsbro (Innstillinger → "
               "Brukere; gi den tilgang til Regnskap for klienten)."),
        "en": ("The API user's password", "The password of the user you made for Bilagsbro (Innstillinger → "
               "Brukere; give it access to Regnskap for the client).")},
    ("finago-office", "application_id"): {
        "nb": ("Applikasjons-id (integrasjonens)", "Bilagsbros egen, fra driftsansvarlig hos oss."),
        "en": ("Application ID (the integration's)", "Bilagsbro's own, from our operator.")},
    ("visma-net", "tenant_id"): {
        "nb": ("Selskapets tenant-id i Visma.net", "Id-en (en UUID) selskapet har i Visma Connect; står i Visma "
               "Developer Portal når selskapet har godkjent integrasjonen."),
        "en": ("The company's Visma.net tenant id", "The company's id (a UUID) in Visma Connect; shown in Visma "
               "Developer Portal once the company approved the integration.")},
    ("visma-net", "client_secret"): {
        "nb": ("Klienthemmelighet (integrasjonens)", "Bilagsbros egen, fra driftsansvarlig hos oss."),
        "en": ("Client secret (the integration's)", "Bilagsbro's own, from our operator.")},
    ("fortnox", "client_id"): {
        "nb": ("Integrasjonens klient-id", "Bilagsbros app hos Fortnox, fra driftsansvarlig hos oss."),
        "en": ("The integration's client id", "Bilagsbro's app at Fortnox, from our operator.")},
    ("fortnox", "client_secret"): {
        "nb": ("Klienthemmelighet (integrasjonens)", "Bilagsbros egen, fra driftsansvarlig hos oss. Kunden gir "
               "tilgang selv gjennom lenken vi lager."),
        "en": ("Client secret (the integration's)", "Bilagsbro's own, from our operator. The customer grants access "
               "through the link we make.")},
    ("visma-business-file", "drop"): {
        "nb": ("Hvor importfilene legges", "Der Visma Business' importjobb henter filene: en blob-mappe eller "
               "SFTP-mappen."),
        "en": ("Where the import files go", "Where Visma Business' import job picks them up: a blob folder or the "
               "SFTP folder.")},
}


def words(system: str, field: str, lang: str, *, fallback: tuple[str, str]) -> tuple[str, str]:
    """(label, where to find it) of a field, in `lang`, else bokmål, else the descriptor's own (`fallback`)."""
    found = WORDS.get((system, field)) or WORDS.get(("*", field)) or {}
    return found.get(lang) or found.get("nb") or fallback


def help_of(descriptor: Any, name: str) -> str:
    """A setting's description in the descriptor's settings model (the fallback help)."""
    info = descriptor.settings.model_fields.get(name)
    return str(getattr(info, "description", "") or "")
