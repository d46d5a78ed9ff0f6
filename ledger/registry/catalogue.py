"""The waste-code catalogue and method list: loading, lookup and validation of codes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from sqlmodel import Session, delete, select

from ledger.codes import load_methods, parse_waste_code
from ledger.errors import InvalidInput
from ledger.registry.models import Method, WasteCode

DEFAULT_CATALOGUE = "hazardous-waste-catalogue-2021.csv"
DEFAULT_EDITION = "2021"
CATALOGUE_COLUMNS = ("code", "category", "category_name", "industry", "description", "hazard")


def read_catalogue_csv(text: str, *, edition: str) -> list[dict]:
    """Parse a catalogue CSV (columns code,category,category_name,industry,description,hazard) into rows."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CATALOGUE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"catalogue CSV lacks columns {', '.join(missing)}", field="file")
    rows, seen = [], set()
    for n, raw in enumerate(reader, start=2):
        code = (raw["code"] or "").strip()
        info = parse_waste_code(code, field=f"line {n}: code")
        if not info.hazardous:
            raise InvalidInput(f"line {n}: {code} is not a hazardous-waste code", field="code")
        if info.category != raw["category"].strip():
            raise InvalidInput(f"line {n}: category {raw['category']} does not match code {code}", field="category")
        if code in seen:
            raise InvalidInput(f"line {n}: code {code} appears twice", field="code")
        seen.add(code)
        rows.append({
            "code": code, "category": info.category, "category_name": raw["category_name"].strip(),
            "industry": (raw["industry"] or "").strip() or None, "description": raw["description"].strip(),
            "hazard": raw["hazard"].strip(), "edition": edition,
        })
    if not rows:
        raise InvalidInput("catalogue CSV has no rows", field="file")
    return rows


def bundled_catalogue_rows() -> list[dict]:
    """The 2021 catalogue shipped with the package."""
    text = resources.files("ledger.data").joinpath(DEFAULT_CATALOGUE).read_text(encoding="utf-8")
    return read_catalogue_csv(text, edition=DEFAULT_EDITION)


def bundled_method_rows() -> list[dict]:
    """The method list shipped with the package (ledger/data/methods.csv), as rows for the method table."""
    return [{"code": m.code, "name": m.name, "kind": m.kind, "counts_as_utilisation": m.counts_as_utilisation}
            for m in load_methods().values()]


def import_catalogue(session: Session, *, path: Path | str, edition: str) -> int:
    """Replace the catalogue with a newer edition from CSV; returns the number of codes loaded."""
    rows = read_catalogue_csv(Path(path).read_text(encoding="utf-8-sig"), edition=edition)
    session.exec(delete(WasteCode))
    session.add_all(WasteCode(**r) for r in rows)
    session.flush()
    return len(rows)


def get_waste_code(session: Session, code: str) -> WasteCode | None:
    """The catalogue entry for a hazardous code, or None (a read-only snapshot from the registry cache)."""
    from ledger.cache import cached, snapshot

    def load() -> WasteCode | None:
        row = session.get(WasteCode, code)
        return snapshot(row) if row is not None else None

    return cached(session, ("waste_code", code), load)


def lookup_waste_code(session: Session, code: str, *, field: str = "waste_code") -> tuple[str, WasteCode | None]:
    """Validate a hazardous (catalogue or 900-000-CC) or general (NNN-NNN-Sxx) code; returns it normalised with
    its catalogue entry (None for general codes and for 900-000-CC)."""
    info = parse_waste_code(code, field=field)
    entry = get_waste_code(session, info.code) if info.hazardous else None
    if info.hazardous and not info.is_identified_by_testing and entry is None:
        raise InvalidInput(f"{info.code} is not in the hazardous-waste catalogue; use a listed code or "
                           f"900-000-{info.code[-2:]} for waste identified by testing", field=field,
                           code="waste_code.unknown")
    return info.code, entry


def check_waste_code(session: Session, code: str, *, field: str = "waste_code") -> str:
    """Validate a waste code; returns it normalised."""
    return lookup_waste_code(session, code, field=field)[0]


def check_code_or_category(session: Session, value: str, *, field: str) -> str:
    """A licence may cover a whole category (HW08) or single codes."""
    v = value.strip().upper()
    if len(v) == 4 and v.startswith("HW") and v[2:].isdigit():
        if session.exec(select(WasteCode.code).where(WasteCode.category == v)).first() is None:
            raise InvalidInput(f"category {v} has no codes in the catalogue", field=field)
        return v
    return check_waste_code(session, value, field=field)


def check_methods(session: Session, methods: Iterable[str], *, field: str = "methods") -> list[str]:
    """Every method code must exist in the method list."""
    out = []
    for i, m in enumerate(methods):
        code = m.strip().upper()
        if session.get(Method, code) is None:
            known = ", ".join(session.exec(select(Method.code).order_by(Method.code)).all())
            raise InvalidInput(f"unknown method {m!r}; known: {known}", field=f"{field}[{i}]",
                               code="method.unknown")
        out.append(code)
    return out
