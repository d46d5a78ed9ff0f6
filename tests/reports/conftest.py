"""The reports tests share one four-year world per module: building it writes a few hundred records through the
services at historical times, so the per-test cleaning of the global harness is replaced by one clean at the
end of each module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from tests.conftest import _empty, auth, make_user
from tests.reports.scenario import World, build


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:  # overrides the harness's per-test clean inside this package
    yield


@pytest.fixture(scope="module")
def world(engine) -> Iterator[World]:  # noqa: ANN001
    _empty(engine)
    with Session(engine, expire_on_commit=False) as s:
        w = build(s)
        _, admin = make_user(s, role="admin", username="reports.admin")
        _, park = make_user(s, role="park_manager", username="reports.park", park_id=w.park)
        _, reg = make_user(s, role="regulator", username="reports.reg", region_prefix="37")
        _, far = make_user(s, role="regulator", username="reports.far", region_prefix="44")
        w.tokens = {"admin": auth(admin), "park": auth(park), "reg": auth(reg), "far": auth(far)}
        for key in ("A", "B", "C", "RIN"):
            _, tok = make_user(s, role="unit_admin", username=f"reports.{key.lower()}", unit_id=w.u[key])
            w.tokens[key] = auth(tok)
    yield w
    _empty(engine)
