"""转移 transfer rules: late receipts, loads overdue on the road, weight differences, refusals not returned,
labels that are not on the manifest, transfers outside the plan."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise

from alerts import settings as S
from alerts.rules import Finding, kg, rule
from ledger.workdays import SHANGHAI


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class ReceiptDue:
    """A load that arrived (or left) and waits for the receiver's signature."""

    manifest_id: int
    number: str
    receiver_id: int
    status: str
    deadline: datetime
    received_at: datetime | None
    now: datetime


@rule(code="TRN-RECEIPT-LATE", klass="transfer", tiers=("mid",), title="接受人逾期未确认接收",
      checks="The receiver has not signed the receipt by the manifest's receipt deadline",
      threshold="5 working days after arrival (`receipt_deadline`)", basis="转移管理办法 第十八条",
      fact=ReceiptDue)
def receipt_late(f: ReceiptDue) -> Iterator[Finding]:
    if f.received_at is None and f.status in ("in_transit", "delivered") and f.now > f.deadline:
        yield Finding("TRN-RECEIPT-LATE", "mid", f.receiver_id, f"manifest:{f.manifest_id}",
                      f"联单 {f.number} 已过接收确认期限（{_local(f.deadline)}）仍未确认接收",
                      {"manifest_id": f.manifest_id, "manifest": f.number, "deadline": f.deadline.isoformat(),
                       "status": f.status})


@dataclass(frozen=True)
class Trip:
    """A load on the road: its planned date and the GPS points since it became overdue."""

    manifest_id: int
    number: str
    hauler_id: int
    planned_date: date
    picked_up_at: datetime
    status: str
    points: tuple[datetime, ...]  # GPS times, ascending (those before the overdue time may be left out)
    last_point_before: datetime | None  # the last point before the overdue time, if any
    now: datetime

    @property
    def overdue_from(self) -> datetime:
        end_of_day = datetime.combine(self.planned_date, time.max, tzinfo=SHANGHAI)
        return max(end_of_day, self.picked_up_at) + timedelta(hours=S.TRANSIT_LATE_HOURS)


@rule(code="TRN-TRANSIT-LATE", klass="transfer", tiers=("mid", "high"), title="转移运输超时",
      checks="A load still on the road long after its planned date; worse when its GPS track goes silent",
      threshold="> 24 h past the planned date (mid); with no GPS point for > 2 h of that time (high)",
      basis="转移管理办法 第十一条(三)(四) (运抵、记录运输轨迹)", fact=Trip)
def transit_late(f: Trip) -> Iterator[Finding]:
    if f.status != "in_transit" or f.now <= f.overdue_from:
        return
    start = f.overdue_from
    # Silent stretches inside [overdue time, now]: from the last point seen (or pickup) to the next point, or now.
    times = [f.last_point_before or f.picked_up_at, *[p for p in f.points if start <= p < f.now], f.now]
    gaps = [(max(0.0, (b - max(a, start)).total_seconds() / 3600), a) for a, b in pairwise(times)]
    silence_h, silent_since = max(gaps, key=lambda g: g[0])
    tier = "high" if silence_h > S.GPS_SILENCE_HOURS else "mid"
    hours = (f.now - datetime.combine(f.planned_date, time.max, tzinfo=SHANGHAI)).total_seconds() / 3600
    title = f"联单 {f.number} 超过计划日期 {hours:.0f} 小时仍在途"
    if tier == "high":
        title += f"，GPS 轨迹中断 {silence_h:.1f} 小时"
    yield Finding("TRN-TRANSIT-LATE", tier, f.hauler_id, f"manifest:{f.manifest_id}", title,
                  {"manifest_id": f.manifest_id, "manifest": f.number, "planned_date": f.planned_date.isoformat(),
                   "hours_past_plan": round(hours, 1), "gps_silence_hours": round(silence_h, 2),
                   "gps_silent_since": silent_since.isoformat(), "points_since_overdue": len(f.points)})


@dataclass(frozen=True)
class Receipt:
    """A received manifest's lines: shipped against received mass."""

    manifest_id: int
    number: str
    originator_id: int
    receiver_id: int
    lines: tuple[tuple[int, str, int, int], ...]  # (line no, waste code, shipped g, received g)


def _line_tier(shipped: int, received: int) -> str | None:
    diff = abs(shipped - received)
    if shipped and diff > shipped * S.TRANSIT_DIFF_HIGH_RATIO:
        return "high"
    if diff > S.TRANSIT_DIFF_MID_G or (shipped and diff > shipped * S.TRANSIT_DIFF_MID_RATIO):
        return "mid"
    return None


def _body_tier(body) -> str | None:  # noqa: ANN001
    """The tier a receipt record's body implies (its shipped and received mass)."""
    if "shipped_g" not in body or body.get("received_g") is None:
        return None
    return _line_tier(int(body["shipped_g"]), int(body["received_g"]))


@rule(code="TRN-WEIGHT-DIFF", klass="transfer", tiers=("mid", "high"), title="转移量与接收量不符",
      checks="Shipped against received mass on a manifest line",
      threshold="differs by > 5% or > 50 kg (mid); by > 10% (high)", basis="转移管理办法 第十八条 (数量不符)",
      fact=Receipt, kind="event", triggers={"received": lambda b: _body_tier(b) is not None,
                                            "refused": lambda b: _body_tier(b) is not None})
def weight_diff(f: Receipt) -> Iterator[Finding]:
    bad = [(no, code, s, r, _line_tier(s, r)) for no, code, s, r in f.lines]
    bad = [b for b in bad if b[4]]
    if not bad:
        return
    tier = "high" if any(b[4] == "high" for b in bad) else "mid"
    worst = max(bad, key=lambda b: abs(b[2] - b[3]))
    pct = abs(worst[2] - worst[3]) * 100 / worst[2] if worst[2] else 100.0
    yield Finding("TRN-WEIGHT-DIFF", tier, f.originator_id, f"manifest:{f.manifest_id}",
                  f"联单 {f.number} 第 {worst[0]} 行转移 {kg(worst[2])} kg、接收 {kg(worst[3])} kg，相差 {pct:.1f}%",
                  {"manifest_id": f.manifest_id, "manifest": f.number, "receiver_id": f.receiver_id,
                   "lines": [{"line_no": no, "waste_code": c, "shipped_kg": kg(s), "received_kg": kg(r),
                              "difference_kg": kg(s - r), "tier": tr} for no, c, s, r, tr in bad]})


@dataclass(frozen=True)
class Refusal:
    """Mass a receiver refused on a manifest and how much of it is back with the originator."""

    manifest_id: int
    number: str
    originator_id: int
    receiver_id: int
    status: str
    refused_g: int
    returned_g: int


@rule(code="TRN-REFUSAL-OPEN", klass="transfer", tiers=("high",), title="拒收危险废物未退回",
      checks="A refusal or partial refusal whose load is not yet back with the originator",
      threshold="any refused mass not returned (high until the return leg closes)",
      basis="转移管理办法 第十八条 第二款", fact=Refusal,
      triggers={"received": lambda b: int(b.get("refused_g") or 0) > 0, "refused": None, "returned": None})
def refusal_open(f: Refusal) -> Iterator[Finding]:
    if f.refused_g > f.returned_g:
        yield Finding("TRN-REFUSAL-OPEN", "high", f.originator_id, f"manifest:{f.manifest_id}",
                      f"联单 {f.number} 被拒收 {kg(f.refused_g)} kg，尚有 {kg(f.refused_g - f.returned_g)} kg 未退回移出人",
                      {"manifest_id": f.manifest_id, "manifest": f.number, "receiver_id": f.receiver_id,
                       "status": f.status, "refused_kg": kg(f.refused_g), "returned_kg": kg(f.returned_g)})


@dataclass(frozen=True)
class RefusedPickup:
    """A pickup the ledger refused because a scanned label is not on the manifest (no record was written)."""

    manifest_id: int
    number: str
    originator_id: int
    hauler_id: int
    labels: tuple[str, ...]
    by: str
    at: datetime


@rule(code="TRN-LABEL-MISMATCH", klass="transfer", tiers=("mid",), title="提货扫码标签与联单不符",
      checks="A label scanned at pickup that is not on the manifest (the pickup was refused)",
      threshold="any such label", basis="转移管理办法 第十条(四)、第十一条(一) (标签与联单不符不得装运)",
      fact=RefusedPickup, kind="event", scanned=False)
def label_mismatch(f: RefusedPickup) -> Iterator[Finding]:
    if f.labels:
        yield Finding("TRN-LABEL-MISMATCH", "mid", f.originator_id, f"manifest:{f.manifest_id}",
                      f"联单 {f.number} 提货时扫到 {len(f.labels)} 个不在联单上的标签",
                      {"manifest_id": f.manifest_id, "manifest": f.number, "hauler_id": f.hauler_id,
                       "labels": list(f.labels)[:50], "by": f.by, "at": f.at.isoformat()})


@dataclass(frozen=True)
class ManifestFlags:
    """The plan flags a manifest carries (`not_in_plan:CODE`, `receiver_not_in_plan:CODE`)."""

    manifest_id: int
    number: str
    originator_id: int
    flags: tuple[str, ...]


@rule(code="TRN-OFF-PLAN", klass="transfer", tiers=("low",), title="转移计划外废物或接受人",
      checks="A manifest carrying a code, or going to a receiver, that the originator's plan does not list",
      threshold="any `not_in_plan:` or `receiver_not_in_plan:` flag", basis="转移管理办法 第十四条",
      fact=ManifestFlags, kind="event", triggers=("shipped",))
def off_plan(f: ManifestFlags) -> Iterator[Finding]:
    codes = sorted(x.split(":", 1)[1] for x in f.flags if x.startswith("not_in_plan:"))
    receivers = sorted(x.split(":", 1)[1] for x in f.flags if x.startswith("receiver_not_in_plan:"))
    if codes or receivers:
        parts = []
        if codes:
            parts.append(f"废物 {', '.join(codes)} 不在管理计划中")
        if receivers:
            parts.append(f"{', '.join(receivers)} 的接受人不在管理计划中")
        yield Finding("TRN-OFF-PLAN", "low", f.originator_id, f"manifest:{f.manifest_id}",
                      f"联单 {f.number}：{'；'.join(parts)}",
                      {"manifest_id": f.manifest_id, "manifest": f.number, "codes_not_in_plan": codes,
                       "receiver_not_in_plan_for": receivers})
