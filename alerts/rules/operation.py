"""经营 operation rules (receivers): licences expiring or not covering what was received, licensed capacity,
cross-province transfers outside their approval, overloaded in-house facilities, received waste held too long,
processing by a method other than the planned one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from alerts import settings as S
from alerts.rules import Finding, flagged, kg, rule, t


@dataclass(frozen=True)
class Licence:
    """An operating licence (经营许可证) and whether a later licence of the same unit covers its codes."""

    permit_id: int
    unit_id: int
    number: str
    valid_to: date
    renewed: bool
    today: date


@rule(code="OPS-LICENCE-EXPIRY", klass="operation", tiers=("low",), title="经营许可证到期",
      checks="An operating licence that expired or expires soon without a later licence covering its codes",
      threshold="expired, or expiring within 30 days", basis="危险废物经营许可证管理办法 第十二条 (to verify)",
      fact=Licence)
def licence_expiry(f: Licence) -> Iterator[Finding]:
    left = (f.valid_to - f.today).days
    if f.renewed or left > S.LICENCE_EXPIRY_WARN_DAYS:
        return
    what = f"已于 {f.valid_to} 到期" if left < 0 else f"将于 {f.valid_to} 到期（剩余 {left} 天）"
    yield Finding("OPS-LICENCE-EXPIRY", "low", f.unit_id, f"permit:{f.permit_id}",
                  f"经营许可证 {f.number} {what}，尚无续期许可证",
                  {"permit_id": f.permit_id, "number": f.number, "valid_to": f.valid_to.isoformat(), "days_left": left})


def covers(codes: tuple[str, ...], waste_code: str) -> bool:
    """A licence lists either the code itself or its category HWnn (as the manifest checks do)."""
    return waste_code in codes or ("HW" + waste_code[-2:]) in codes


@dataclass(frozen=True)
class ReceivedLoad:
    """The hazardous lines a receiver accepted on one manifest, and the licences it held on that day."""

    manifest_id: int
    number: str
    receiver_id: int
    received_on: date
    lines: tuple[tuple[int, str, str, int], ...]  # (line no, waste code, planned method, accepted g)
    licences: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (number, codes, methods)
    # a collector's collection licences (number, codes): it collects and stores, the planned method is the end
    # receiver's, so the code is what its licence must cover
    collection_licences: tuple[tuple[str, tuple[str, ...]], ...] = ()


@rule(code="OPS-LICENCE-SCOPE", klass="operation", tiers=("high",), title="接收超出经营许可范围的危险废物",
      checks="A receiver accepted hazardous waste whose code or method no licence valid that day covers",
      threshold="any accepted line outside the licence", basis="固废法 第八十条; 危险废物经营许可证管理办法",
      fact=ReceivedLoad, kind="event", triggers=("received",))
def licence_scope(f: ReceivedLoad) -> Iterator[Finding]:
    bad = []
    for no, code, method, accepted in f.lines:
        if accepted <= 0:
            continue
        covering = [lic for lic in f.licences if covers(lic[1], code)]
        if not covering and any(covers(lic[1], code) for lic in f.collection_licences):
            continue
        if not covering:
            bad.append({"line_no": no, "waste_code": code, "method": method, "why": "code"})
        elif not any(method in lic[2] for lic in covering):
            bad.append({"line_no": no, "waste_code": code, "method": method, "why": "method"})
    if bad:
        first = bad[0]
        what = "废物代码" if first["why"] == "code" else f"利用处置方式 {first['method']}"
        yield Finding("OPS-LICENCE-SCOPE", "high", f.receiver_id, f"manifest:{f.manifest_id}",
                      f"联单 {f.number} 接收的 {first['waste_code']} 的{what}不在 {f.received_on} 有效的经营许可证范围内",
                      {"manifest_id": f.manifest_id, "manifest": f.number, "received_on": f.received_on.isoformat(),
                       "lines": bad, "licences": [n for n, _, _ in f.licences]})


@dataclass(frozen=True)
class LicenceUse:
    """A licence's annual capacity against what its holder accepted this year."""

    permit_id: int
    unit_id: int
    number: str
    year: int
    capacity_g: int
    accepted_g: int


@rule(code="OPS-CAPACITY", klass="operation", tiers=("mid", "high"), title="经营规模接近或超过核准能力",
      checks="Mass a receiver accepted this year against its licence's annual capacity",
      threshold="≥ 90% (mid); > 100% (high)", basis="危险废物经营许可证 核准经营规模",
      fact=LicenceUse, triggers=("received",))
def capacity(f: LicenceUse) -> Iterator[Finding]:
    if f.capacity_g <= 0 or f.accepted_g < f.capacity_g * S.CAPACITY_WARN:
        return
    tier = "high" if f.accepted_g > f.capacity_g * S.CAPACITY_MAX else "mid"
    pct = f.accepted_g * 100 / f.capacity_g
    yield Finding("OPS-CAPACITY", tier, f.unit_id, f"permit:{f.permit_id}:{f.year}",
                  f"{f.year} 年已接收 {t(f.accepted_g)} 吨，为许可证 {f.number} 核准规模 {t(f.capacity_g)} 吨的 {pct:.0f}%",
                  {"permit_id": f.permit_id, "number": f.number, "year": f.year, "accepted_kg": kg(f.accepted_g),
                   "capacity_kg": kg(f.capacity_g), "used_pct": round(pct, 1)})


@dataclass(frozen=True)
class CrossProvince:
    """A transfer picked up across a province border, with the approval it carries (if any)."""

    manifest_id: int
    number: str
    originator_id: int
    receiver_id: int
    picked_up_on: date
    lines: tuple[tuple[str, int], ...]  # (waste code, shipped g)
    approval_number: str | None = None
    approval_parties_match: bool = False
    approval_codes: tuple[str, ...] = ()
    approval_valid: tuple[date, date] | None = None
    approval_cap_g: int = 0
    approval_used_g: int = 0  # by every manifest on the approval, this one included


@rule(code="OPS-CROSS-PROVINCE", klass="operation", tiers=("high",), title="跨省转移超出审批范围",
      checks="A cross-province transfer without an approval naming its parties, codes, dates and quantity",
      threshold="any breach of the approval", basis="转移管理办法 第二十一条至第二十八条", fact=CrossProvince,
      kind="event", triggers=("shipped",))
def cross_province(f: CrossProvince) -> Iterator[Finding]:
    why = []
    if f.approval_number is None:
        why.append("无跨省转移审批")
    else:
        if not f.approval_parties_match:
            why.append(f"审批 {f.approval_number} 未列明本次移出人或接受人")
        if f.approval_valid and not (f.approval_valid[0] <= f.picked_up_on <= f.approval_valid[1]):
            why.append(f"审批有效期 {f.approval_valid[0]}～{f.approval_valid[1]} 不含起运日 {f.picked_up_on}")
        missing = sorted({c for c, _ in f.lines if c not in f.approval_codes})
        if missing:
            why.append(f"审批不含废物代码 {', '.join(missing)}")
        if f.approval_used_g > f.approval_cap_g:
            why.append(f"审批累计转移 {t(f.approval_used_g)} 吨，超过批准的 {t(f.approval_cap_g)} 吨")
    if why:
        yield Finding("OPS-CROSS-PROVINCE", "high", f.originator_id, f"manifest:{f.manifest_id}",
                      f"跨省转移联单 {f.number}：{'；'.join(why)}",
                      {"manifest_id": f.manifest_id, "manifest": f.number, "receiver_id": f.receiver_id,
                       "approval": f.approval_number, "reasons": why})


@dataclass(frozen=True)
class FacilityLoad:
    """An in-house utilisation/disposal facility's throughput this year against its design capacity."""

    facility_id: int
    unit_id: int
    code: str
    name: str
    year: int
    capacity_g: int
    processed_g: int


@rule(code="OPS-FACILITY-OVERLOAD", klass="operation", tiers=("mid",), title="自行利用处置设施超设计能力运行",
      checks="Mass processed this year by an in-house utilisation/disposal facility against its design capacity",
      threshold="> 100% of the annual design capacity", basis="HJ 1259 §5.4.2 (设施参数); 排污许可",
      fact=FacilityLoad)
def facility_overload(f: FacilityLoad) -> Iterator[Finding]:
    if f.capacity_g > 0 and f.processed_g > f.capacity_g:
        yield Finding("OPS-FACILITY-OVERLOAD", "mid", f.unit_id, f"facility:{f.facility_id}:{f.year}",
                      f"{f.name}（{f.code}）{f.year} 年已处理 {t(f.processed_g)} 吨，超过设计能力 {t(f.capacity_g)} 吨",
                      {"facility_id": f.facility_id, "facility_code": f.code, "year": f.year,
                       "processed_kg": kg(f.processed_g), "capacity_kg": kg(f.capacity_g)})


@dataclass(frozen=True)
class ReceivedHolding:
    """Hazardous waste a receiver took in and still holds."""

    batch_id: int
    unit_id: int
    digital_id: str
    waste_code: str
    held_g: int
    received_on: date
    today: date


@rule(code="OPS-HOLDING-AGE", klass="operation", tiers=("high",), title="接收的危险废物贮存超过一年",
      checks="A receiver still holding waste it received more than a year ago",
      threshold="> 365 days since receipt", basis="固废法 第八十一条", fact=ReceivedHolding)
def holding_age(f: ReceivedHolding) -> Iterator[Finding]:
    days = (f.today - f.received_on).days
    if f.held_g > 0 and days > S.RECEIVER_HOLD_DAYS:
        yield Finding("OPS-HOLDING-AGE", "high", f.unit_id, f"batch:{f.batch_id}",
                      f"接收的批次 {f.digital_id}（{f.waste_code}，{kg(f.held_g)} kg）已贮存 {days} 天未利用处置",
                      {"batch_id": f.batch_id, "digital_id": f.digital_id, "waste_code": f.waste_code,
                       "held_kg": kg(f.held_g), "received_on": f.received_on.isoformat(), "days": days})


@dataclass(frozen=True)
class ProcessingMethods:
    """How a receiver processed a manifest's lines against the planned methods (`method_changed:CODE` flags on
    the manifest, `method_differs` in processing records)."""

    manifest_id: int
    number: str
    receiver_id: int
    changed: tuple[str, ...]  # waste codes whose method changed


@rule(code="OPS-METHOD-CHANGED", klass="operation", tiers=("low",), title="利用处置方式与联单不一致",
      checks="A receiver processed waste by a method other than the manifest's planned one",
      threshold="any `method_changed:` flag on the manifest", basis="转移管理办法 第十二条(二)",
      fact=ProcessingMethods, kind="event",
      triggers={"used_in_house": flagged("method_differs"), "disposed_in_house": flagged("method_differs")})
def method_changed(f: ProcessingMethods) -> Iterator[Finding]:
    if f.changed:
        yield Finding("OPS-METHOD-CHANGED", "low", f.receiver_id, f"manifest:{f.manifest_id}",
                      f"联单 {f.number} 的 {', '.join(f.changed)} 未按计划的利用处置方式处理",
                      {"manifest_id": f.manifest_id, "manifest": f.number, "waste_codes": list(f.changed)})
