"""`ledger.aio.maker` makes a detached table model from a row's values exactly as pydantic's `model_construct` does
(the hot reads on the event loop and the registry cache's snapshots use it), for every table model of the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import SQLModel

from ledger.aio import maker


def _tables() -> list[type]:
    import api.main  # noqa: F401  (every module's tables registered)

    seen, out = set(), []
    stack = list(SQLModel.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "__table__", None) is not None and cls not in seen:
            seen.add(cls)
            out.append(cls)
    return sorted(out, key=lambda c: c.__name__)


def _value(column, i: int):  # noqa: ANN001, ANN202
    try:
        py = column.type.python_type
    except NotImplementedError:  # a type that names no Python type: a JSON-like value will do
        py = None
    return {int: i, str: f"v{i}", bool: i % 2 == 0, float: i / 4, Decimal: Decimal(i) / 8,
            datetime: datetime(2026, 1, 1 + i % 28, tzinfo=UTC)}.get(py, {"k": i})


TABLES = _tables()


def test_there_are_tables_to_check() -> None:
    names = {c.__name__ for c in TABLES}
    assert {"Batch", "JournalRecord", "Manifest", "ManifestLine", "ManifestEvent", "Unit", "Facility", "ApiToken",
            "User"} <= names


@pytest.mark.parametrize("model", TABLES, ids=lambda c: c.__name__)
def test_a_made_row_is_what_model_construct_makes(model: type) -> None:
    columns = list(model.__table__.columns)
    values = [_value(c, i) if i % 5 else None for i, c in enumerate(columns, 1)]
    made = maker(model)(values)
    constructed = model.model_construct(**{c.name: v for c, v in zip(columns, values, strict=True)})
    assert type(made) is model
    for attr in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        assert getattr(made, attr) == getattr(constructed, attr), attr
    assert made.model_dump(warnings=False) == constructed.model_dump(warnings=False)
    for c in columns:  # read through SQLAlchemy's instrumented attributes, as the ledger's code reads them
        try:
            expected = getattr(constructed, c.name)
        except AttributeError as e:  # a column SQLAlchemy maps lazily: the same refusal for both
            with pytest.raises(type(e)):
                getattr(made, c.name)
        else:
            assert getattr(made, c.name) == expected
    other = maker(model)(values)
    assert other.__pydantic_fields_set__ is not made.__pydantic_fields_set__  # nothing shared between rows


@pytest.mark.parametrize("variant", ["full", "sparse"])
def test_record_public_is_what_validation_makes(variant: str) -> None:
    """`record_public` builds its model without validating the stored row's values again: the model, its JSON and
    its fields are those that validating the same values gives."""
    from ledger.batches.schemas import RecordPublic, record_public
    from ledger.journal import JournalRecord
    from ledger.mass import g_to_kg

    at = datetime(2026, 3, 27, 1, 2, 3, 456789, tzinfo=UTC)
    full = variant == "full"
    row = {c.name: None for c in JournalRecord.__table__.columns}
    row.update(id=7, unit_id=3, seq=42, kind="stored" if full else "generated", batch_id=11 if full else None,
               source_batch_id=None, mass_g=123_456_789 if full else 1, facility_id=5 if full else None,
               manifest_id=9 if full else None, record_code="RK-20260327-001" if full else None, actor_id=None,
               actor_name="张三", occurred_at=at, recorded_at=at, corrects_id=6 if full else None,
               body={"manifest": "3701-2026-000001", "flags": ["a"], "nested": {"k": [1, 2.5, None]}} if full else {},
               prev_hash="0" * 64, hash="f" * 64)
    r = maker(JournalRecord)([row[c.name] for c in JournalRecord.__table__.columns])
    trusted = record_public(r)
    validated = RecordPublic(**{k: (g_to_kg(r.mass_g) if k == "mass_kg" else getattr(r, k))
                                for k in RecordPublic.model_fields})
    assert type(trusted) is RecordPublic
    assert trusted.__dict__ == validated.__dict__
    assert [type(v) for v in trusted.__dict__.values()] == [type(v) for v in validated.__dict__.values()]
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted.__pydantic_serializer__.to_json(trusted) == validated.__pydantic_serializer__.to_json(validated)
    assert trusted.model_dump() == validated.model_dump()


@pytest.mark.parametrize("volume", [None, 20, Decimal("20.5"), 12.25])
@pytest.mark.parametrize("stored", [True, False])
def test_batch_public_is_what_validation_makes(volume: object, stored: bool) -> None:
    """`batch_public` builds its model without validation too: what validating the same values gives, for a volume
    as a stored row holds it (a float) and as any other number (validation makes every one a float)."""
    from ledger.batches.models import Batch
    from ledger.batches.schemas import BatchPublic, batch_public
    from ledger.codes import parse_hazard
    from ledger.mass import g_to_kg

    at = datetime(2026, 3, 27, 1, 2, 3, tzinfo=UTC)
    row = {c.name: None for c in Batch.__table__.columns}
    row.update(id=11, unit_id=3, holder_unit_id=4 if stored else 3, parent_id=10 if stored else None,
               root_id=10 if stored else None, digital_id="91370100MA1999592W9000394920260327001",
               batch_code="HW08-20260327-001", waste_code="900-249-08", category="HW08", hazardous=stored,
               name="废矿物油", form="液态", hazard="T,I" if stored else None, components=None, container_type="桶",
               container_count=2, container_volume_l=volume, period="container", facility_id=5, scale_id="S1",
               operator="李四", occurred_at=at, gross_g=200_500, tare_g=500, net_g=200_000, remaining_g=150_000,
               stored_g=100_000 if stored else 0, in_transit_g=0, storage_facility_id=6 if stored else None,
               stored_ever=stored, status="stored" if stored else "generated",
               flags=["late_weighing"] if stored else [], created_at=at)
    b = maker(Batch)([row[c.name] for c in Batch.__table__.columns])
    trusted = batch_public(b, public_url="https://ledger.example.test/")
    base = "https://ledger.example.test"
    validated = BatchPublic(
        **{k: row[k] for k in BatchPublic.model_fields if k in row and k not in ("hazard", "flags")},
        hazard=list(parse_hazard(b.hazard)) if b.hazard else [], flags=list(b.flags),
        gross_kg=g_to_kg(b.gross_g), tare_kg=g_to_kg(b.tare_g), net_kg=g_to_kg(b.net_g),
        remaining_kg=g_to_kg(b.remaining_g), stored_kg=g_to_kg(b.stored_g), in_transit_kg=g_to_kg(b.in_transit_g),
        label_url=f"{base}/api/v1/batches/11/label.png", scan_url=f"{base}/s/{b.digital_id}")
    assert type(trusted) is BatchPublic
    assert trusted.__dict__ == validated.__dict__
    assert [type(v) for v in trusted.__dict__.values()] == [type(v) for v in validated.__dict__.values()]
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted.__pydantic_serializer__.to_json(trusted) == validated.__pydantic_serializer__.to_json(validated)
