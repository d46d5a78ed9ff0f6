"""库存 inventory rules: batches held too long, full facilities, overloaded 贮存点, balances the journal disowns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from alerts import settings as S
from alerts.rules import Finding, kg, rule, t


@dataclass(frozen=True)
class HeldBatch:
    """A hazardous batch its generator still holds (stored or loose)."""

    batch_id: int
    unit_id: int
    digital_id: str
    waste_code: str
    held_g: int
    generated_on: date
    storage_facility_id: int | None
    today: date


@rule(code="INV-STORAGE-AGE", klass="inventory", tiers=("low", "high"), title="危险废物贮存超期",
      checks="A hazardous batch still held by its generator long after it was generated",
      threshold="≥ 330 days (low); > 365 days (high)", basis="固废法 第八十一条 (贮存不得超过一年)",
      fact=HeldBatch)
def storage_age(f: HeldBatch) -> Iterator[Finding]:
    days = (f.today - f.generated_on).days
    if days < S.STORAGE_WARN_DAYS or f.held_g <= 0:
        return
    tier = "high" if days > S.STORAGE_MAX_DAYS else "low"
    what = "已超过一年贮存期限" if tier == "high" else f"将于 {S.STORAGE_MAX_DAYS - days} 天后超过一年贮存期限"
    yield Finding("INV-STORAGE-AGE", tier, f.unit_id, f"batch:{f.batch_id}",
                  f"批次 {f.digital_id}（{f.waste_code}，{kg(f.held_g)} kg）已贮存 {days} 天，{what}",
                  {"batch_id": f.batch_id, "digital_id": f.digital_id, "waste_code": f.waste_code,
                   "held_kg": kg(f.held_g), "generated_on": f.generated_on.isoformat(), "days": days,
                   "facility_id": f.storage_facility_id})


@dataclass(frozen=True)
class FacilityStock:
    """A storage facility's stock against its registered capacity."""

    facility_id: int
    unit_id: int
    code: str
    name: str
    storage_type: str | None
    capacity_g: int | None
    stock_g: int


@rule(code="INV-FACILITY-FULL", klass="inventory", tiers=("mid", "high"), title="贮存设施接近或超过贮存能力",
      checks="A storage facility's stock against its registered capacity",
      threshold="≥ 90% (mid); > 100% (high)", basis="GB 18597-2023 (贮存能力); HJ 1259 §5.5.2.2",
      fact=FacilityStock, triggers={"stored": None, "corrected": lambda b: b.get("corrects_kind") == "stored"})
def facility_full(f: FacilityStock) -> Iterator[Finding]:
    if not f.capacity_g or f.stock_g < f.capacity_g * S.FACILITY_FILL_WARN:
        return
    tier = "high" if f.stock_g > f.capacity_g * S.FACILITY_FILL_MAX else "mid"
    pct = f.stock_g * 100 / f.capacity_g
    yield Finding("INV-FACILITY-FULL", tier, f.unit_id, f"facility:{f.facility_id}",
                  f"{f.name}（{f.code}）库存 {t(f.stock_g)} 吨，为贮存能力 {t(f.capacity_g)} 吨的 {pct:.0f}%",
                  {"facility_id": f.facility_id, "facility_code": f.code, "stock_kg": kg(f.stock_g),
                   "capacity_kg": kg(f.capacity_g), "fill_pct": round(pct, 1)})


@rule(code="INV-STORAGE-POINT", klass="inventory", tiers=("mid",), title="贮存点贮存量超过 3 吨",
      checks="A 贮存点 (temporary storage point) holding more than a storage point may",
      threshold="> 3 t in all", basis="GB 18597-2023 贮存点 (to verify)", fact=FacilityStock,
      triggers={"stored": None, "corrected": lambda b: b.get("corrects_kind") == "stored"})
def storage_point(f: FacilityStock) -> Iterator[Finding]:
    if f.storage_type == "贮存点" and f.stock_g > S.STORAGE_POINT_MAX_G:
        yield Finding("INV-STORAGE-POINT", "mid", f.unit_id, f"facility:{f.facility_id}",
                      f"贮存点 {f.name}（{f.code}）贮存 {t(f.stock_g)} 吨，超过 {t(S.STORAGE_POINT_MAX_G)} 吨",
                      {"facility_id": f.facility_id, "facility_code": f.code, "stock_kg": kg(f.stock_g),
                       "limit_kg": kg(S.STORAGE_POINT_MAX_G)})


@dataclass(frozen=True)
class BalanceCheck:
    """Holdings of a unit whose cached balances differ from what its journal says (what `rebuild` reports)."""

    unit_id: int
    differences: tuple[tuple[int, str, int, int], ...]  # (batch id, field, cached, journal)


@rule(code="INV-BALANCE", klass="inventory", tiers=("high",), title="库存余额与台账记录不一致",
      checks="Cached balances (remaining, stored, in transit) that the journal does not support",
      threshold="any difference (the same check as `wasteledger rebuild`)",
      basis="HJ 1259 §6.1.1 (台账真实、准确、完整)", fact=BalanceCheck)
def balance(f: BalanceCheck) -> Iterator[Finding]:
    if f.differences:
        ids = sorted({d[0] for d in f.differences})
        yield Finding("INV-BALANCE", "high", f.unit_id, f"unit:{f.unit_id}",
                      f"{len(ids)} 个批次的库存余额与台账记录不一致",
                      {"batch_ids": ids[:50], "differences": [
                          {"batch_id": b, "field": fld, "cached_kg": kg(c), "journal_kg": kg(j)}
                          for b, fld, c, j in f.differences[:50]]})
