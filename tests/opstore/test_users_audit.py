"""Users, roles, tokens and the audit chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from moneytrail.errors import UserError
from moneytrail.opstore import OpsStore
from moneytrail.opstore.audit import entries, record, verify
from moneytrail.opstore.models import AuditEntry, User
from moneytrail.opstore.users import (
    ROLES,
    Forbidden,
    authenticate,
    can,
    create_user,
    issue_token,
    require,
    revoke_tokens,
    user_for_token,
)


def test_migrations_are_idempotent(ops_url: str) -> None:
    OpsStore(ops_url).dispose()
    store = OpsStore(ops_url)  # a second open finds the schema at head and changes nothing
    with store.session() as s:
        version = s.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == "0001"
    store.dispose()


def test_passwords_are_hashed_with_argon2_and_checked(ops_store: OpsStore) -> None:
    with ops_store.session() as s:
        create_user(s, "ana", "correct horse battery", "analyst")
    with ops_store.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "ana"))
        assert stored is not None and stored.startswith("$argon2id$") and "correct" not in stored
        assert authenticate(s, "ana", "correct horse battery") is not None
        assert authenticate(s, "ana", "wrong horse battery") is None
        assert authenticate(s, "nobody", "correct horse battery") is None


def test_bad_users_are_refused_with_a_reason(ops_store: OpsStore) -> None:
    with ops_store.session() as s:
        with pytest.raises(UserError, match="unknown role"):
            create_user(s, "x", "long enough password", "boss")
        with pytest.raises(UserError, match="at least"):
            create_user(s, "x", "short", "analyst")
        create_user(s, "x", "long enough password", "analyst")
        with pytest.raises(UserError, match="exists already"):
            create_user(s, "x", "long enough password", "analyst")


def test_disabled_users_cannot_log_in_or_act(ops_store: OpsStore) -> None:
    with ops_store.session() as s:
        u = create_user(s, "sup", "long enough password", "supervisor")
        u.active = False
    with ops_store.session() as s:
        assert authenticate(s, "sup", "long enough password") is None
        with pytest.raises(Forbidden):
            require(s.scalars(select(User)).one(), "read_cases")


def test_role_permissions() -> None:
    assert set(ROLES) == {"analyst", "supervisor", "liaison", "admin"}
    assert can("supervisor", "approve_report") and not can("analyst", "approve_report")
    assert can("supervisor", "assign_case") and not can("analyst", "assign_case")
    # a liaison officer sees only what is shared with partners
    assert can("liaison", "read_shared") and not can("liaison", "read_personal") and not can("liaison", "read_cases")
    assert can("admin", "manage_users") and not can("supervisor", "manage_users")
    with pytest.raises(ValueError):
        can("admin", "launch_rockets")


def test_tokens_are_stored_hashed_and_can_be_revoked(ops_store: OpsStore) -> None:
    with ops_store.session() as s:
        u = create_user(s, "gw", "long enough password", "analyst")
        token = issue_token(s, u, "gateway")
    with ops_store.session() as s:
        assert s.execute(text("SELECT count(*) FROM api_tokens WHERE token_hash = :t"), {"t": token}).scalar() == 0
        found = user_for_token(s, token)
        assert found is not None and found.username == "gw"
        assert user_for_token(s, token + "x") is None
        assert revoke_tokens(s, found) == 1
    with ops_store.session() as s:
        assert user_for_token(s, token) is None


def _fill(store: OpsStore, n: int = 6) -> None:
    with store.session() as s:
        for i in range(n):
            record(s, "ana", "case.state", f"case:C-{i:06d}", before={"state": "new"},
                   after={"state": "in_review", "score": 0.5 + i / 10}, details={"note": f"n{i}"})


def test_audit_chain_verifies_and_lists(ops_store: OpsStore) -> None:
    _fill(ops_store)
    with ops_store.session() as s:
        result = verify(s)
        assert result.ok and result.entries == 6 and len(result.head) == 64
        listed = entries(s, target="case:C-000003")
        assert [e.after["state"] for e in listed] == ["in_review"]
        assert verify(s, expect=result.head).ok


def test_the_database_refuses_to_edit_or_delete_audit_entries(ops_store: OpsStore) -> None:
    _fill(ops_store, 2)
    with pytest.raises(Exception, match="append-only"), ops_store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == 1).values(actor="mallory"))
    with pytest.raises(Exception, match="append-only"), ops_store.session() as s:
        s.execute(text("DELETE FROM audit_entries WHERE id = 1"))


def _drop_guard(store: OpsStore) -> None:
    """What an attacker with the database owner's rights can do."""
    with store.session() as s:
        if store.engine.dialect.name == "postgresql":
            s.execute(text("DROP TRIGGER audit_entries_append_only ON audit_entries"))
        else:
            s.execute(text("DROP TRIGGER audit_entries_no_update"))
            s.execute(text("DROP TRIGGER audit_entries_no_delete"))


def test_verify_catches_an_edited_entry(ops_store: OpsStore) -> None:
    _fill(ops_store)
    _drop_guard(ops_store)
    with ops_store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == 3).values(actor="mallory"))
    with ops_store.session() as s:
        result = verify(s)
    assert not result.ok
    assert any("entry 3" in p and "edited" in p for p in result.problems)


def test_verify_catches_a_deleted_entry_and_a_truncated_tail(ops_store: OpsStore) -> None:
    _fill(ops_store)
    with ops_store.session() as s:
        head = verify(s).head
    _drop_guard(ops_store)
    with ops_store.session() as s:
        s.execute(text("DELETE FROM audit_entries WHERE id = 2"))
    with ops_store.session() as s:
        result = verify(s)
    assert not result.ok and any("entry 3" in p and "deleted" in p for p in result.problems)
    with ops_store.session() as s:
        s.execute(text("DELETE FROM audit_entries WHERE id >= 2"))
    with ops_store.session() as s:
        assert verify(s).ok  # a shorter chain is consistent in itself ...
        tail = verify(s, expect=head)  # ... but the anchor noted earlier is gone
    assert not tail.ok and "anchor" in tail.problems[0]


def test_a_rolled_back_change_leaves_no_audit_entry(ops_store: OpsStore) -> None:
    with pytest.raises(RuntimeError), ops_store.session() as s:
        record(s, "ana", "case.state", "case:C-000001")
        raise RuntimeError("crash mid-change")
    with ops_store.session() as s:
        assert verify(s).entries == 0
