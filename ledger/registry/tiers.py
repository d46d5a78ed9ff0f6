"""Management tier per HJ 1259 §4.2.1, derived from the ledger and the registry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlmodel import Session, select

from ledger.registry.models import Facility, Permit, Unit
from ledger.workdays import today as shanghai_today

KEY_THRESHOLD_G = 100_000_000  # 100 t/yr of hazardous waste at one site → 重点监管
SIMPLIFIED_THRESHOLD_G = 10_000_000  # 10 t/yr → 简化管理

# Set by ledger.batches at import: (session, unit_id, year) -> grams of hazardous waste generated that year.
# The registry does not import the batch ledger, so the ledger registers its own reader here.
annual_hazardous_reader: Callable[[Session, int, int], int] | None = None


def tier_from_facts(*, max_annual_hazardous_g: int, own_facility: bool, licensed: bool) -> str:
    """HJ 1259 §4.2.1: key if ≥100 t/yr, own utilisation/disposal facility or a licence; simplified if ≥10 t/yr."""
    if max_annual_hazardous_g >= KEY_THRESHOLD_G or own_facility or licensed:
        return "key"
    if max_annual_hazardous_g >= SIMPLIFIED_THRESHOLD_G:
        return "simplified"
    return "registered"


def derived_tier(session: Session, *, unit: Unit, today: date | None = None) -> str:
    """The tier the ledger implies: the largest of the last three years' hazardous generation, and the registry."""
    today = today or shanghai_today()
    years = (today.year - 2, today.year - 1, today.year)
    quantities = [annual_hazardous_reader(session, unit.id, y) for y in years] if annual_hazardous_reader else [0]
    own = session.exec(
        select(Facility.id).where(Facility.unit_id == unit.id, Facility.kind.in_(("utilisation", "disposal")))
    ).first() is not None
    licensed = session.exec(
        select(Permit.id).where(Permit.unit_id == unit.id,  # a collection licence is a 经营许可证 too
                                Permit.kind.in_(("operating_licence", "collection_licence")),
                                Permit.valid_to >= today)
    ).first() is not None
    return tier_from_facts(max_annual_hazardous_g=max(quantities), own_facility=own, licensed=licensed)
