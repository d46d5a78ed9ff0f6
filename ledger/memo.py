"""What one read asks more than once is read once.

Inside `one_read()`, `memo(key, load)` calls `load()` the first time a key is asked and answers the same value
after. A read that has already fetched some answers in one round trip (the async label scan, `ledger.scan`)
passes them in as `one_read(primed)`, and the functions that would read them (`holdings_for_scan`,
`open_manifest_of`) find them there. Outside `one_read()` nothing is kept: writes always read afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_MEMO: ContextVar[dict | None] = ContextVar("wasteledger_read_memo", default=None)


@contextmanager
def one_read(primed: dict | None = None) -> Iterator[None]:
    """A scope in which `memo` keeps what it loads; `primed` holds answers already fetched, by their keys. A scope
    opened inside another shares it (a trace's hooks, inside a trace read on the event loop)."""
    outer = _MEMO.get()
    if outer is not None:
        outer.update(primed or {})
        yield
        return
    token = _MEMO.set(dict(primed or {}))
    try:
        yield
    finally:
        _MEMO.reset(token)


def memo(key: tuple, load: Callable[[], T]) -> T:
    """`load()`, once per key within `one_read()` (outside one: every time)."""
    kept = _MEMO.get()
    if kept is None:
        return load()
    if key not in kept:
        kept[key] = load()
    return kept[key]
