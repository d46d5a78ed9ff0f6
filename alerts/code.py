"""固废码 (Ningbo, seed 004 §五.2): each unit's colour, derived from its open alerts.

red (督办) if any open high alert or any overdue mid one; yellow (预警) if any open mid alert or any overdue low one;
green (正常) otherwise. "Overdue" is the current step's deadline passed (marked by the scan, or seen live).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from alerts.models import Alert
from ledger.types import utcnow

NAMES = {"green": ("绿码", "正常"), "yellow": ("黄码", "预警"), "red": ("红码", "督办")}


def is_overdue(a: Alert, now: datetime) -> bool:
    return a.status != "closed" and (a.overdue or (a.deadline_at is not None and a.deadline_at < now))


def colour(alerts: Iterable[tuple[str, bool]]) -> str:
    """The colour of a unit from its open alerts' (tier, overdue)."""
    alerts = list(alerts)
    if any(t == "high" or (t == "mid" and o) for t, o in alerts):
        return "red"
    if any(t == "mid" or (t == "low" and o) for t, o in alerts):
        return "yellow"
    return "green"


def drives(tier: str, overdue: bool, c: str) -> bool:
    """True when an alert is one of those that make the colour `c`."""
    if c == "red":
        return tier == "high" or (tier == "mid" and overdue)
    if c == "yellow":
        return tier == "mid" or (tier == "low" and overdue)
    return False


def unit_code(session: Session, unit_id: int, *, now: datetime | None = None) -> tuple[str, list[tuple[Alert, bool]]]:
    """The unit's colour and its open alerts with their overdue state (those behind the colour first)."""
    now = now or utcnow()
    rows = session.exec(select(Alert).where(Alert.unit_id == unit_id, Alert.status != "closed")
                        .order_by(Alert.id)).all()
    marked = [(a, is_overdue(a, now)) for a in rows]
    c = colour((a.tier, o) for a, o in marked)
    marked.sort(key=lambda x: (not drives(x[0].tier, x[1], c), -{"high": 2, "mid": 1, "low": 0}[x[0].tier], x[0].id))
    return c, marked
