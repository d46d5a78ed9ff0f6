"""The catalogue loads at migrate time and a newer edition replaces it; migrations go up and down cleanly."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect
from sqlmodel import Session, select

from ledger.errors import InvalidInput
from ledger.migrate import downgrade, upgrade
from ledger.registry.catalogue import check_waste_code, import_catalogue
from ledger.registry.models import Method, WasteCode

HEADER = "code,category,category_name,industry,description,hazard\n"


def test_bundled_catalogue_and_methods_are_loaded(session):
    assert len(session.exec(select(WasteCode)).all()) == 467
    assert session.get(WasteCode, "900-249-08").category == "HW08"
    assert session.get(Method, "R9").counts_as_utilisation is True
    assert session.get(Method, "D10").counts_as_utilisation is False


def test_a_newer_edition_replaces_the_catalogue(tmp_path, engine):
    csv = tmp_path / "2025.csv"
    csv.write_text(HEADER + "900-249-08,HW08,废矿物油与含矿物油废物,非特定行业,其他废矿物油,\"T,I\"\n"
                   "900-052-31,HW31,含铅废物,非特定行业,废铅蓄电池,\"T,C\"\n", encoding="utf-8")
    with Session(engine) as s:
        n = import_catalogue(s, path=csv, edition="2025")
        assert n == 2 and s.get(WasteCode, "900-052-31").edition == "2025"
        with pytest.raises(InvalidInput):
            check_waste_code(s, "900-041-49")  # not in the new edition
        s.rollback()  # keep the shared test database on the bundled edition
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "900-249-08,HW09,x,y,z,T\n", encoding="utf-8")
    with Session(engine) as s, pytest.raises(InvalidInput, match="category"):
        import_catalogue(s, path=bad, edition="x")


def test_migrations_go_up_down_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"unit", "batch", "journal_record", "manifest", "waste_code", "app_user"} <= tables
    downgrade(url, "base")
    assert set(inspect(create_engine(url)).get_table_names()) <= {"alembic_version"}
    upgrade(url)
    assert "manifest" in set(inspect(create_engine(url)).get_table_names())
