"""The registry cache's two parts (`ledger.cache`): the accounts (tokens with their users, users) under row 2 of
`registry_version`, the rest of the registry under row 1. A logout (a token revoked) drops the tokens and users of
every process and keeps their units; a change of a unit keeps the tokens. On SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlmodel import Session

from ledger import cache
from ledger.accounts import find_token, hash_token
from ledger.auth import SYSTEM, registry_unit
from ledger.registry.models import Unit
from ledger.users import revoke_token
from tests.conftest import credit, make_user


def _reads(engine, unit_id: int, token: str) -> list[str]:  # noqa: ANN001
    """Which of a unit and a token a new transaction found missing in the cache (and so read), then looks both up
    (caching them)."""
    with Session(engine) as s:
        stamps = cache._stamp(s)
        missing = [name for name, key in (("token", ("token", hash_token(token))), ("unit", ("unit", unit_id)))
                   if not cache.holds(stamps, key)]
        assert registry_unit(s, unit_id).id == unit_id
        find_token(s, clear=token)
    return missing


def test_a_logout_keeps_the_units_and_a_unit_change_keeps_the_tokens(engine, session) -> None:  # noqa: ANN001
    cache.bump(session)  # the registry's row (a fresh test database has none: nothing would be cached)
    session.commit()
    cache.clear()
    unit = Unit(credit_code=credit(), name="缓存测试单位", region_code="370112", is_generator=True)
    session.add(unit)
    session.commit()
    user, token = make_user(session, role="operator", unit_id=unit.id)
    _, other = make_user(session, role="operator", unit_id=unit.id)
    assert find_token(session, clear=token) is not None
    session.commit()

    _reads(engine, unit.id, token)  # both read if not cached yet
    assert _reads(engine, unit.id, token) == []  # then both cached

    other_token = find_token(session, clear=other)[0]
    revoke_token(session, principal=SYSTEM, token_id=other_token.id)  # a logout elsewhere
    session.commit()
    assert _reads(engine, unit.id, token) == ["token"]  # the accounts' part was dropped; the unit was kept
    assert _reads(engine, unit.id, token) == []
    with Session(engine) as s:
        assert find_token(s, clear=other) is None  # and the revoked token is refused at once

    row = session.get(Unit, unit.id)
    row.name = "改名后的缓存测试单位"
    session.add(row)
    session.commit()
    assert _reads(engine, unit.id, token) == ["unit"]  # the registry's part dropped; the tokens kept
    with Session(engine) as s:
        assert registry_unit(s, unit.id).name == "改名后的缓存测试单位"

    account = session.get(type(user), user.id)
    account.active = False  # a user deactivated: its tokens go with the accounts' part
    session.add(account)
    session.commit()
    assert _reads(engine, unit.id, token) == ["token"]
    with Session(engine) as s:
        assert find_token(s, clear=token) is None


def test_a_database_emptied_and_filled_again_keeps_no_account_of_before(engine, session) -> None:  # noqa: ANN001
    """With `registry_version` emptied (a restore, a test's truncation), nothing is cached; the first change of the
    registry after it starts both parts afresh, so a token or user kept from before is not served."""
    from sqlalchemy import text

    cache.bump(session)
    session.commit()
    unit = Unit(credit_code=credit(), name="清空测试单位", region_code="370112", is_generator=True)
    session.add(unit)
    session.commit()
    _, token = make_user(session, role="operator", unit_id=unit.id)
    _reads(engine, unit.id, token)
    assert _reads(engine, unit.id, token) == []
    session.execute(text("DELETE FROM registry_version"))
    session.commit()
    with Session(engine) as s:
        assert cache._stamp(s) is None  # no row 1: no caching
    cache.bump(session, accounts=False)  # the first change of the registry after it
    session.commit()
    assert sorted(_reads(engine, unit.id, token)) == ["token", "unit"]
    # and row 2 exists from then on: a change of the registry keeps the accounts
    assert len(session.exec(text("SELECT id FROM registry_version")).all()) == 2
    cache.bump(session, accounts=False)
    session.commit()
    assert _reads(engine, unit.id, token) == ["unit"]
