"""The SAF-T writer's plumbing: XML text as it is written (escaped, fitted, indented), and the spool that keeps
transactions and parties on disk until the file is written — so that memory stays flat whatever the period holds."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from pipeline.model import Party

ZERO = Decimal("0.00")
# Characters XML 1.0 cannot hold; they become a space.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def short_id(text: str, limit: int) -> str:
    """An identifier that fits `limit` characters: itself, or its head, "~" and 8 hex digits of its SHA-256."""
    if len(text) <= limit:
        return text
    return f"{text[:limit - 9]}~{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"



class Out:
    """XML text as it is written: elements on lines of their own, indented by depth, texts escaped and fitted."""

    def __init__(self, depth: int = 0, counter: Any = None) -> None:
        self.parts: list[str] = []
        self.depth = depth
        self.counter = counter  # has `shortened`, counted up per shortened text
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def raw(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def open(self, name: str) -> None:
        self.raw(f"{chr(9) * self.depth}<{name}>\n")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.raw(f"{chr(9) * self.depth}</{name}>\n")

    def leaf(self, name: str, value: str, limit: int | None = None, *, identifier: bool = False) -> None:
        text = _NOT_XML.sub(" ", value)
        if limit is not None and len(text) > limit:
            text = short_id(text, limit) if identifier else text[:limit]
            if self.counter is not None:
                self.counter.shortened += 1
        self.raw(f"{chr(9) * self.depth}<{name}>{escape(text)}</{name}>\n")

    def take(self) -> bytes:
        data = "".join(self.parts).encode("utf-8")
        self.parts.clear()
        self.size = 0
        return data


class Spool:
    """Transactions, parties and party balances in a private temporary SQLite database (on disk, deleted on
    close: sqlite3.connect("")); accounts, VAT codes and analysis IDs in memory (they grow with the chart)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript("""
            CREATE TABLE tx (seq INTEGER PRIMARY KEY, journal TEXT NOT NULL, xml BLOB NOT NULL);
            CREATE TABLE party (role TEXT, id TEXT, json TEXT NOT NULL, PRIMARY KEY (role, id));
            CREATE TABLE balance (role TEXT, id TEXT, account TEXT, ore INTEGER NOT NULL,
                                  PRIMARY KEY (role, id, account));
        """)
        self.accounts: dict[str, Decimal] = {}
        self.tax_codes: set[str] = set()
        self.analyses: dict[tuple[str, str], str] = {}  # (AnalysisType, AnalysisID) → dimension
        self._journals: set[str] = set()

    def close(self) -> None:
        self.db.close()

    def transaction(self, journal: str, xml: bytes) -> None:
        self._journals.add(journal)
        self.db.execute("INSERT INTO tx (journal, xml) VALUES (?, ?)", (journal, xml))

    def account(self, account: str, amount: Decimal) -> None:
        self.accounts[account] = self.accounts.get(account, ZERO) + amount

    def tax_code(self, code: str) -> None:
        self.tax_codes.add(code)

    def analysis(self, kind: str, dimension: str, value: str) -> None:
        self.analyses.setdefault((kind, short_id(value, 35)), dimension)

    def party(self, role: str, ident: str, party: Party, account: str, amount: Decimal) -> str:
        """Keep a party (the first one seen under an ID wins) and its movement on `account`; its ID."""
        self.db.execute("INSERT OR IGNORE INTO party VALUES (?, ?, ?)",
                        (role, ident, party.model_dump_json(exclude_none=True)))
        self.db.execute("INSERT INTO balance VALUES (?, ?, ?, ?) ON CONFLICT (role, id, account) "
                        "DO UPDATE SET ore = ore + excluded.ore", (role, ident, account, int(amount * 100)))
        return ident

    def parties(self, role: str) -> Iterator[tuple[str, Party, list[tuple[str, Decimal]]]]:
        rows = self.db.execute("SELECT id, json FROM party WHERE role = ? ORDER BY id", (role,))
        for ident, text in rows:
            balances = [(account, Decimal(ore) / 100) for account, ore in self.db.execute(
                "SELECT account, ore FROM balance WHERE role = ? AND id = ? ORDER BY account", (role, ident))]
            yield ident, Party.model_validate(json.loads(text)), balances

    def journals(self) -> list[str]:
        return sorted(self._journals)

    def transactions(self, journal: str) -> Iterator[bytes]:
        for (xml,) in self.db.execute("SELECT xml FROM tx WHERE journal = ? ORDER BY seq", (journal,)):
            yield bytes(xml)
