"""What the alert pages share (the regulator's console and the unit's own pages): an alert as a page shows it — its
facts, the evidence in words, the trace it points to (rendered inline), the action log, and the action forms its
route allows the viewer — and a unit's 固废码.

Which actions a viewer gets is `alerts.queue.next_acts`, i.e. the alert's step and `ledger.auth.may_on_alert`; the
templates only draw the forms listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from alerts import code as unit_code
from alerts import queue
from alerts import settings as alert_settings
from alerts.models import STATUS_NAMES, Alert, AlertAction
from alerts.rules import CLASS_NAMES
from alerts.settings import TIER_NAMES, TIERS
from api.routers.alerts import AlertPublic, alert_public
from api.routers.batches import build_trace
from api.routers.manifests import STATUS_NAMES as MANIFEST_STATUS
from api.routers.manifests import manifest_public
from ledger import batches as bsvc
from ledger import manifests as msvc
from ledger.auth import Principal, regulator_level
from ledger.errors import InvalidInput
from ledger.registry.models import Facility, Unit
from ledger.types import utcnow
from ledger.workdays import SHANGHAI

ACTION_NAMES = {"open": "发现", "raise": "事实加重，升级", "push": "推送", "rectify": "整改反馈", "accept": "审核通过",
                "reject": "退回重新整改", "close": "关闭", "auto_close": "事实消除，自动关闭",
                "fact_cleared": "事实已消除", "overdue": "逾期", "escalate": "逾期升级", "forward": "移送执法"}
RESOLUTION_NAMES = {"rectified": "整改办结", "accepted": "审核办结", "fact_cleared": "事实消除",
                    "dismissed": "关闭"}
# What the alert waits for, by (status, high or not): the route of alerts/routing.py in words.
WAITING = {("open", True): "等待省级推送至市级", ("open", False): "等待县（市）级监管部门推送给单位",
           ("pushed", True): "等待市级核查并报告", ("pushed", False): "等待单位整改反馈",
           ("rectified", True): "等待省级审核核查报告", ("rectified", False): "等待监管部门审核整改情况"}
ROUTES = {"low": "低风险：直接推送给单位，单位 5 个工作日内整改反馈即办结；逾期升为中风险。",
          "mid": "中风险：县（市）级推送给单位，单位 5 个工作日内整改，监管部门审核通过或退回；逾期升为高风险。",
          "high": "高风险：省级推送至市级，市级核查并报告，省级审核；可能涉及违法的移送执法。"}

# Evidence keys in words; None hides a key that only links (the trace shows what it points to).
EVIDENCE_LABELS: dict[str, str | None] = {
    "manifest": "联单号", "manifest_id": None, "batch_id": None, "facility_id": None, "permit_id": None,
    "batch_ids": "批次", "digital_id": "数字识别码", "waste_code": "废物代码", "waste_codes": "废物代码",
    "facility_code": "设施编号", "stock_kg": "库存量 kg", "capacity_kg": "能力 kg", "fill_pct": "占用 %",
    "held_kg": "贮存量 kg", "generated_kg": "产生量 kg", "planned_kg": "计划量 kg", "ratio_pct": "占计划 %",
    "year": "年度", "month": "月份", "month_kg": "当月产生 kg", "mean_kg": "前三月均值 kg", "change_pct": "变化 %",
    "previous_kg": "上期 kg", "annual_kg": "年产生量 kg", "from": "原类别", "to": "新类别",
    "receiver_id": "接受人", "hauler_id": "承运人", "status": "联单状态", "deadline": "期限",
    "lines": "明细", "line_no": "行", "shipped_kg": "运出 kg", "received_kg": "接收 kg", "difference_kg": "差额 kg",
    "tier": "级别", "refused_kg": "拒收 kg", "returned_kg": "已退回 kg", "labels": "不符标签", "by": "扫码账号",
    "at": "时间", "number": "编号", "valid_to": "有效期至", "days_left": "剩余天数", "received_on": "接收日",
    "generated_on": "产生日", "days": "天数", "planned_date": "计划日期", "hours_past_plan": "超计划小时",
    "gps_silence_hours": "GPS 中断小时", "gps_silent_since": "GPS 中断起", "points_since_overdue": "超时后轨迹点",
    "accepted_kg": "已接收 kg", "used_pct": "已用 %", "limit_kg": "上限 kg", "processed_kg": "已处理 kg",
    "last_record_day": "最后记录日", "idle_days": "无记录天数", "active_weeks": "此前有记录周数", "count": "数量",
    "worst_hours": "最长滞后小时", "due_on": "应报日", "days_late": "逾期天数", "kind": "类别",
    "period_start": "期间起", "period_end": "期间止", "codes_not_in_plan": "计划外代码",
    "receiver_not_in_plan_for": "接受人不在计划内的代码", "reasons": "原因", "approval": "审批", "licences": "许可证",
    "lines_t": "明细（吨）", "differences": "差异", "field": "字段", "cached_kg": "缓存 kg", "journal_kg": "台账 kg",
    "lat": "纬度", "lon": "经度",
}
PARTY_KEYS = ("receiver_id", "hauler_id")
# Keys hidden at the top (the trace shows them) that still name a column in a table of evidence.
TABLE_LABELS = {"batch_id": "批次 ID", "facility_id": "设施 ID", "permit_id": "许可证 ID", "manifest_id": "联单 ID"}
BALANCE_FIELDS = {"remaining_g": "余量", "stored_g": "在库量", "in_transit_g": "在途量"}


@dataclass(frozen=True)
class Evidence:
    label: str
    text: str = ""
    table: tuple[tuple[str, ...], tuple[tuple[str, ...], ...]] | None = None  # (header, rows)


@dataclass(frozen=True)
class ActForm:
    """One action the viewer may take now: posted by wl.js to the alerts API."""

    act: str
    title: str
    button: str
    field: str | None  # note | reason | None (rectify: text and attachments, built by alert.js)
    required: bool
    hint: str = ""
    available: bool = True  # False: allowed, but something on the server is missing (says `hint`)


def _words(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    if isinstance(value, dict):
        return "；".join(f"{k}: {_words(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "、".join(_words(v) for v in value)
    if value in TIER_NAMES:
        return TIER_NAMES[value]
    return str(value)


def evidence_of(s: Session, a: Alert) -> list[Evidence]:
    """The evidence as label/value pairs; lists of records as small tables; party ids as unit names."""
    out = []
    for key, value in (a.evidence or {}).items():
        label = EVIDENCE_LABELS.get(key, key)
        if label is None:
            continue
        if key == "status" and value in MANIFEST_STATUS:
            out.append(Evidence(label, MANIFEST_STATUS[value]))
        elif key in PARTY_KEYS and isinstance(value, int):
            u = s.get(Unit, value)
            out.append(Evidence(label, u.name if u else str(value)))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            out.append(Evidence(label, table=(
                tuple(TABLE_LABELS.get(k) or EVIDENCE_LABELS.get(k) or k for k in keys),
                tuple(tuple(BALANCE_FIELDS.get(v.get(k), _words(v.get(k))) if k == "field" else _words(v.get(k))
                            for k in keys) for v in value))))
        elif key == "batch_ids":
            out.append(Evidence(label, f"{len(value)} 个"))
        else:
            out.append(Evidence(label, _words(value)))
    return out


def trace_of(s: Session, p: Principal, a: Alert, public_url: str) -> dict:
    """What the alert points to, if the viewer may see it: a manifest (whole), a batch's trace, a facility, batches."""
    ev = a.evidence or {}
    out: dict[str, Any] = {"manifest": None, "batch": None, "facility": None, "batches": [], "hidden": False}
    mid = ev.get("manifest_id") or (a.subject_id if a.subject_kind == "manifest" else None)
    if mid:
        m = s.get(msvc.Manifest, mid)
        if m is not None and msvc.can_see_manifest(s, p, m):
            out["manifest"] = manifest_public(s, m, public_url)
        else:
            out["hidden"] = True
    bid = ev.get("batch_id") or (a.subject_id if a.subject_kind == "batch" else None)
    if bid:
        b = s.get(bsvc.Batch, bid)
        if b is not None and bsvc.can_see_batch(s, p, b):
            out["batch"] = build_trace(s, b, public_url)
        else:
            out["hidden"] = True
    fid = ev.get("facility_id") or (a.subject_id if a.subject_kind == "facility" else None)
    if fid:
        out["facility"] = s.get(Facility, fid)
    ids = [i for i in ev.get("batch_ids") or [] if isinstance(i, int)][:20]
    if ids:
        rows = s.exec(select(bsvc.Batch).where(bsvc.Batch.id.in_(ids))).all()
        out["batches"] = [b for b in rows if bsvc.can_see_batch(s, p, b)]
    return out


def forms_for(p: Principal, view: AlertPublic) -> list[ActForm]:
    """The action forms of what the viewer may do now (`next_acts`: the alert's step and ledger.auth)."""
    high = view.tier == "high"
    out = []
    for act in view.next_acts:
        if act == "push":
            out.append(ActForm(act, "推送", "推送至市级核查" if high else "推送给单位整改", "note", False,
                               "推送后市级监管部门收到告警，5 个工作日内核查并报告。" if high else
                               "推送后单位收到告警，5 个工作日内整改反馈。"))
        elif act == "rectify":
            if p.role == "regulator" or (p.is_admin and high):
                out.append(ActForm(act, "核查报告", "提交核查报告", None, True,
                                   "写明现场核查情况和处理意见，附上核查记录、照片的存放地址；省级审核后办结。"))
            else:
                out.append(ActForm(act, "整改反馈", "提交整改情况", None, True,
                                   "写明已采取的整改措施；附件填写照片、单据等文件的名称和存放地址。"
                                   + ("提交后告警办结。" if view.tier == "low" else "提交后由监管部门审核。")))
        elif act == "accept":
            out.append(ActForm(act, "审核通过", "通过，办结", "note", False))
        elif act == "reject":
            out.append(ActForm(act, "退回", "退回重新整改", "reason", True, "写明退回的原因和需要补充的内容。"))
        elif act == "close":
            out.append(ActForm(act, "关闭", "关闭告警", "reason", True, "如误报、已另案处理：写明关闭的理由。"))
        elif act == "forward":
            configured = bool(alert_settings.config().enforcement_url)
            out.append(ActForm(act, "移送执法", "移送执法系统", "reason", True,
                               "写明可能涉及的违法行为。" if configured else
                               "本平台尚未配置执法移送接口（LEDGER_ALERTS_ENFORCEMENT_URL），请联系平台管理员。",
                               available=configured))
    return out


def log_of(s: Session, a: Alert) -> list[tuple[AlertAction, str]]:
    return [(x, "核查报告" if x.action == "rectify" and x.tier == "high" else ACTION_NAMES.get(x.action, x.action))
            for x in queue.actions_of(s, a.id)]


def safe_href(url: str) -> str | None:
    """An attachment's address as a link only when it is a web address or a path here (never javascript:)."""
    u = (url or "").strip()
    return u if u.startswith(("https://", "http://", "/")) and not u.startswith("//") else None


def no_actions_text(p: Principal, view: AlertPublic) -> str:
    """Why the viewer has nothing to do here (so nobody hunts for a button that is someone else's)."""
    if view.status == "closed":
        return "告警已办结。"
    waiting = WAITING.get((view.status, view.tier == "high"), "")
    level = {"province": "省级", "city": "市级", "county": "县级"}.get(regulator_level(p) or "", "")
    who = f"您（{level}监管）" if level else "您的账号"
    return f"{waiting}。{who}在这一步没有可办理的操作。" if waiting else "没有可办理的操作。"


def alert_context(s: Session, p: Principal, a: Alert, public_url: str) -> dict:
    from api.pages.phone import ACTION_NAMES as MANIFEST_ACTIONS

    view = alert_public(a, p)
    return {"a": view, "unit": s.get(Unit, a.unit_id), "evidence": evidence_of(s, a),
            "trace": trace_of(s, p, a, public_url), "log": log_of(s, a), "forms": forms_for(p, view),
            "waiting": WAITING.get((view.status, view.tier == "high")), "route": ROUTES[view.tier],
            "no_actions": no_actions_text(p, view), "manifest_actions": MANIFEST_ACTIONS,
            "resolution_names": RESOLUTION_NAMES, "safe_href": safe_href}


# ---- the queue's filters --------------------------------------------------------------------------------------------

def overdue_value(value: str) -> bool | None:
    if value in ("", None):
        return None
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise InvalidInput("overdue must be 1 or 0", field="overdue")


# ---- 固废码 --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeAlert:
    id: int
    tier: str
    status: str
    title: str
    overdue: bool
    drives: bool
    deadline_at: datetime | None


def code_context(s: Session, unit: Unit, *, alert_href: str) -> dict:
    """A unit's 固废码 for a panel: colour, its name and meaning in words, the open alerts behind it (those that
    make the colour first), the QR image; `alert_href` is the link pattern of an alert ('…/{id}')."""
    colour, alerts = unit_code.unit_code(s, unit.id)
    name, meaning = unit_code.NAMES[colour]
    return {"unit": unit, "colour": colour, "colour_name": name, "meaning": meaning,
            "png_url": f"/api/v1/units/{unit.id}/code.png", "public_url": f"/u/{unit.credit_code}",
            "alert_href": alert_href,
            "alerts": [CodeAlert(a.id, a.tier, a.status, a.title, o, unit_code.drives(a.tier, o, colour), a.deadline_at)
                       for a, o in alerts]}


def open_counts(s: Session, unit_id: int) -> dict[str, int]:
    """Open (not closed) alerts of a unit per tier."""
    counts = dict.fromkeys(TIERS, 0)
    for tier in s.exec(select(Alert.tier).where(Alert.unit_id == unit_id, Alert.status != "closed")).all():
        counts[tier] += 1
    return counts


def unit_alerts(s: Session, p: Principal, unit_id: int, *, limit: int = 50) -> tuple[list[AlertPublic], int]:
    """A unit's alerts as its own users see them: open ones first (highest tier, oldest), then the closed."""
    rows, total = queue.list_alerts(s, principal=p, unit_id=unit_id, limit=limit)
    now = utcnow()
    return [alert_public(a, p, now) for a in rows], total


__all__ = ["ACTION_NAMES", "CLASS_NAMES", "STATUS_NAMES", "TIER_NAMES", "ActForm", "Evidence", "alert_context",
           "code_context", "open_counts", "overdue_value", "unit_alerts"]
