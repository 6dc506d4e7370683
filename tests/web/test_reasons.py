"""Key and role changes say why, as resends do: refused without a reason, and the reason is in the audit log."""

from __future__ import annotations

from pipeline.records.apikeys import ApiKeys
from pipeline.records.names import TABLE_AUDIT
from tests.web.support import world


def _actions(w) -> dict[str, str]:
    return {row["Action"]: row["Why"] for key, row in w.stores.tables.rows.items() if key[0] == TABLE_AUDIT}


def test_key_and_role_changes_are_refused_without_a_reason_and_audited_with_it() -> None:
    w = world()
    owner = w.browser("owner")
    keys = ApiKeys(w.stores.tables)
    before = len(keys.owned_by(w.a1))
    assert owner.post(f"clients/{w.a1}/keys", {"label": "kasse 2"}).status == 400
    assert owner.post(f"clients/{w.a1}/keys/{w.key}/rotate", {"reason": "  "}).status == 400
    assert owner.post(f"clients/{w.a1}/keys/{w.key}/revoke", {}).status == 400
    assert owner.post(f"users/{w.users['viewer']}/roles", {"client": w.a1, "role": "owner"}).status == 400
    assert len(keys.owned_by(w.a1)) == before and w.stores.tables.rows and _actions(w) == {}
    assert owner.post(f"clients/{w.a1}/keys", {"label": "kasse 2", "reason": "ny kasse på Røros"}).status == 201
    assert owner.post(f"clients/{w.a1}/keys/{w.key}/rotate", {"reason": "nøkkelen lå i en e-post"}).status == 201
    assert owner.post(f"users/{w.users['viewer']}/roles", {"client": w.a1, "role": "accountant",
                                                            "reason": "fører regnskapet fra januar"}).status == 303
    assert _actions(w) == {"api key issued": "ny kasse på Røros", "api key rotated": "nøkkelen lå i en e-post",
                           "role changed": "fører regnskapet fra januar"}
