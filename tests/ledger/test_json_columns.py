"""JSON columns read back what `json.loads` reads, through the engine and through the event loop's pool
(`ledger.db.parse_json`: pydantic-core's parser, and the standard library's for what it refuses, such as a lone
surrogate escape, which PostgreSQL's `json` type keeps as SQLite does)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select

from ledger.aio import AsyncReader, compile_pg
from ledger.db import is_sqlite, parse_json

VALUES = [
    {"reason": "\ud800 a lone surrogate in free text"},
    {"text": "é 废矿物油 \u0007", "n": [1, 2.5, None, 10**30, -0.0, 1e-300], "ok": True},
    ["x", {"nested": {"k": [False, {}]}}],
    "just a string",
    12.75,
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_parse_json_gives_what_json_loads_gives(value: object) -> None:
    text = json.dumps(value)
    assert parse_json(text) == json.loads(text) == value
    assert parse_json(text.encode()) == value
    assert repr(parse_json(text)) == repr(json.loads(text))  # the same types too (floats stay floats)


def test_a_json_column_reads_back_what_was_written(engine) -> None:  # noqa: ANN001
    md = MetaData()
    t = Table("test_json_round_trip", md, Column("id", Integer, primary_key=True), Column("v", JSON))
    md.create_all(engine)
    try:
        with engine.begin() as c:
            c.execute(insert(t), [{"id": i, "v": v} for i, v in enumerate(VALUES)])
        with engine.connect() as c:
            got = [row.v for row in c.execute(select(t).order_by(t.c.id))]
        assert got == VALUES and repr(got) == repr(VALUES)
    finally:
        md.drop_all(engine)


def test_the_event_loops_pool_reads_json_as_json_loads_does(db_url) -> None:  # noqa: ANN001
    """What the pool gives for a json or jsonb value is what `json.loads` gives for the text PostgreSQL sends for it
    (jsonb keeps its own order of keys and has no -0.0: its text says so too)."""
    if is_sqlite(db_url):
        pytest.skip("PostgreSQL: on SQLite there is no pool on the event loop")
    from sqlalchemy import Text, bindparam, cast
    from sqlalchemy.dialects.postgresql import JSONB

    queries = [compile_pg(select(cast(bindparam("text"), kind).label("v"),
                                 cast(cast(bindparam("text"), kind), Text).label("as_text")))
               for kind in (JSON, JSONB)]

    async def read() -> list:
        reader = AsyncReader(db_url, size=2)
        await reader.open()
        try:
            out = []
            for v in VALUES:
                for q in queries[: 1 if "\ud800" in json.dumps(v, ensure_ascii=False) else 2]:  # jsonb refuses it
                    (row,) = await reader.rows(q, text=json.dumps(v))
                    out.append(row)
            return out
        finally:
            await reader.close()

    got = asyncio.run(read())
    assert len(got) == 2 * len(VALUES) - 1
    assert [(repr(value), text) for value, text in got if repr(value) != repr(json.loads(text))] == []
    assert got[0][0] == VALUES[0]  # the lone surrogate, through the fallback
