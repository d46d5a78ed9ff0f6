"""What a report covers: one unit, a park (its member units, membership by date), or a region (a 行政区划 prefix).

A park's membership changes on dates, while balances are monthly. For a range of months a `Plan` splits the
months into *clean* ones, where no membership starts or ends inside the month (the balance rows are read, with the
members of that month), and *dirty* ones, where some membership starts or ends mid-month (the journal's raw flows
of those months are read, each record counted when its unit was a member on the record's date). Both paths are
SQL; neither loops over records in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, false, or_
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, select

from ledger.auth import Principal, require_park, require_unit
from ledger.errors import Forbidden, InvalidInput
from ledger.registry.models import Park, ParkMember, Unit
from ledger.workdays import day_bounds_utc

SCOPES = ("unit", "park", "region")


def month_first(m: int) -> date:
    return date(m // 100, m % 100, 1)


def month_last(m: int) -> date:
    y, mo = divmod(m, 100)
    return (date(y + mo // 12, mo % 12 + 1, 1)) - timedelta(days=1)


def next_month(m: int) -> int:
    y, mo = divmod(m, 100)
    return (y + 1) * 100 + 1 if mo == 12 else m + 1


def months(first: int, last: int) -> list[int]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = next_month(m)
    return out


def yyyymm(d: date) -> int:
    return d.year * 100 + d.month


@dataclass(frozen=True)
class Window:
    """A unit's membership of the scope over the Shanghai days start..end (inclusive)."""

    unit_id: int
    start: date
    end: date


@dataclass
class Scope:
    kind: str
    id: int | str
    name: str
    region_code: str | None = None
    # park: every membership row; unit: the unit, always a member; region: resolved in SQL.
    memberships: list[Window] = field(default_factory=list)

    def label(self) -> str:
        return {"unit": "单位", "park": "园区", "region": "地区"}[self.kind] + f" {self.name}"

    # -- membership --------------------------------------------------------------------------------------------

    def windows(self, first: date, last: date) -> list[Window]:
        """Membership windows clipped to first..last (unit and park scopes)."""
        out = []
        for w in self.memberships:
            a, b = max(w.start, first), min(w.end, last)
            if a <= b:
                out.append(Window(w.unit_id, a, b))
        return out

    def members_on(self, day: date) -> list[int]:
        return sorted({w.unit_id for w in self.memberships if w.start <= day <= w.end})

    def unit_ids(self) -> list[int]:
        return sorted({w.unit_id for w in self.memberships})

    def unit_condition(self, col) -> ColumnElement:  # noqa: ANN001
        """Units ever in the scope (region: by region code)."""
        if self.kind == "region":
            return col.in_(select(Unit.id).where(Unit.region_code.startswith(str(self.id))))
        return col.in_(self.unit_ids()) if self.memberships else false()


def resolve(session: Session, principal: Principal, *, kind: str, scope_id: str) -> Scope:
    """The scope, if the principal may read it (404 outside their view, like a unit)."""
    if kind not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    far = date(9999, 12, 31)
    if kind == "unit":
        uid = _int(scope_id)
        unit = require_unit(session, principal, uid)
        return Scope("unit", uid, unit.name, unit.region_code, [Window(uid, date(1900, 1, 1), far)])
    if kind == "park":
        pid = _int(scope_id)
        park: Park = require_park(session, principal, pid)
        rows = session.exec(select(ParkMember).where(ParkMember.park_id == pid)).all()
        return Scope("park", pid, park.name, park.region_code,
                     [Window(m.unit_id, m.since, m.until or far) for m in rows])
    prefix = str(scope_id).strip()
    if not prefix.isdigit() or len(prefix) not in (2, 4, 6):
        raise InvalidInput("a region id is a 2-, 4- or 6-digit 行政区划 prefix", field="id")
    if not (principal.is_admin or (principal.role == "regulator" and prefix.startswith(principal.region_prefix or "~"))):
        raise Forbidden(f"region {prefix} is outside your jurisdiction", code="auth.outside_jurisdiction",
                        details={"field": "id"})
    return Scope("region", prefix, prefix, prefix, [])


def _int(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"id must be a number for this scope, got {value!r}", field="id") from None


# ---- plans: which months come from balances, which from raw flows ---------------------------------------------

@dataclass
class Segment:
    first: int
    last: int
    members: tuple[int, ...]


@dataclass
class Plan:
    """How to read months first..last for a scope."""

    scope: Scope
    first: int
    last: int
    segments: list[Segment]
    dirty: list[int]

    # -- balance rows (clean months) -----------------------------------------------------------------------------

    def balance_condition(self, pb) -> ColumnElement:  # noqa: ANN001
        if self.scope.kind == "region":
            return and_(self.scope.unit_condition(pb.c.unit_id), pb.c.month.between(self.first, self.last))
        parts = [and_(pb.c.unit_id.in_(s.members), pb.c.month.between(s.first, s.last))
                 for s in self.segments if s.members]
        return or_(*parts) if parts else false()

    def balance_counterparty_in(self, pb) -> ColumnElement:  # noqa: ANN001
        """The row's counterparty belongs to the scope in the row's month (a clean month of the plan)."""
        if self.scope.kind == "region":
            return and_(self.scope.unit_condition(pb.c.counterparty_id), pb.c.month.between(self.first, self.last))
        parts = [and_(pb.c.counterparty_id.in_(s.members), pb.c.month.between(s.first, s.last))
                 for s in self.segments if s.members]
        return or_(*parts) if parts else false()

    # -- raw flows (dirty months, and every drill-down) ------------------------------------------------------------

    def _instant_windows(self, months_: list[int]) -> list[tuple[tuple[int, ...], datetime, datetime]]:
        """(units, from, to) UTC instant windows of the scope's membership inside the given months."""
        spans: dict[tuple[date, date], list[int]] = {}
        for m in months_:
            for w in self.scope.windows(month_first(m), month_last(m)):
                spans.setdefault((w.start, w.end), []).append(w.unit_id)
        out = []
        for (a, b), units in spans.items():
            out.append((tuple(sorted(set(units))), day_bounds_utc(a)[0], day_bounds_utc(b)[1]))
        return out

    def raw_condition(self, x, *, only_dirty: bool) -> ColumnElement:  # noqa: ANN001
        """Condition on a flow_source row: its unit belongs to the scope on the record's date."""
        if self.scope.kind == "region":
            if only_dirty:
                return false()
            a, b = day_bounds_utc(month_first(self.first))[0], day_bounds_utc(month_last(self.last))[1]
            return and_(self.scope.unit_condition(x.c.unit_id), x.c.at >= a, x.c.at < b)
        ms = self.dirty if only_dirty else months(self.first, self.last)
        parts = [and_(x.c.unit_id.in_(units), x.c.at >= a, x.c.at < b)
                 for units, a, b in self._instant_windows(ms)]
        return or_(*parts) if parts else false()

    def raw_counterparty_in(self, x, *, only_dirty: bool = False) -> ColumnElement:  # noqa: ANN001
        """Condition on a flow_source row: its counterparty belongs to the scope on the record's date."""
        if self.scope.kind == "region":
            if only_dirty:
                return false()
            a, b = day_bounds_utc(month_first(self.first))[0], day_bounds_utc(month_last(self.last))[1]
            return and_(self.scope.unit_condition(x.c.counterparty_id), x.c.at >= a, x.c.at < b)
        ms = self.dirty if only_dirty else months(self.first, self.last)
        parts = [and_(x.c.counterparty_id.in_(units), x.c.at >= a, x.c.at < b)
                 for units, a, b in self._instant_windows(ms)]
        return or_(*parts) if parts else false()


def plan(scope: Scope, first: int, last: int) -> Plan:
    """Split months first..last into clean segments (constant membership) and dirty months."""
    if scope.kind == "region":
        return Plan(scope, first, last, [Segment(first, last, ())], [])
    segments: list[Segment] = []
    dirty: list[int] = []
    for m in months(first, last):
        a, b = month_first(m), month_last(m)
        inside = [w for w in scope.memberships if w.start <= b and w.end >= a]
        if any((a < w.start <= b) or (a <= w.end < b) for w in inside):
            dirty.append(m)
            continue
        members = tuple(sorted({w.unit_id for w in inside}))
        if segments and segments[-1].members == members and segments[-1].last == _prev(m):
            segments[-1].last = m
        else:
            segments.append(Segment(m, m, members))
    return Plan(scope, first, last, segments, dirty)


def _prev(m: int) -> int:
    y, mo = divmod(m, 100)
    return (y - 1) * 100 + 12 if mo == 1 else m - 1

