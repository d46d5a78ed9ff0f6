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

from sqlalchemy import Integer, and_, any_, false, literal, or_
from sqlalchemy.dialects.postgresql import ARRAY
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


def ids_in(col, ids, dialect: str) -> ColumnElement:  # noqa: ANN001
    """`col IN ids`; on PostgreSQL one array parameter (`= ANY(…)`): a short statement that plans fast."""
    ids = sorted(set(ids))
    if not ids:
        return false()
    if dialect == "postgresql":
        return col == any_(literal(ids, ARRAY(Integer)))
    return col.in_(ids)


@dataclass
class Scope:
    kind: str
    id: int | str
    name: str
    region_code: str | None = None
    # park: every membership row; unit: the unit, always a member; region: resolved in SQL.
    memberships: list[Window] = field(default_factory=list)
    dialect: str = "sqlite"  # how id lists are written (set by resolve)

    def ids(self, col, ids) -> ColumnElement:  # noqa: ANN001
        return ids_in(col, ids, self.dialect)

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
        return self.ids(col, self.unit_ids()) if self.memberships else false()


def resolve(session: Session, principal: Principal, *, kind: str, scope_id: str) -> Scope:
    """The scope, if the principal may read it (404 outside their view, like a unit)."""
    if kind not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    scope = _resolve(session, principal, kind=kind, scope_id=scope_id)
    scope.dialect = session.get_bind().dialect.name
    return scope


def _resolve(session: Session, principal: Principal, *, kind: str, scope_id: str) -> Scope:
    far = date(9999, 12, 31)
    if kind == "unit":
        uid = _int(scope_id)
        unit = require_unit(session, principal, uid)
        return Scope("unit", uid, unit.name, unit.region_code, [Window(uid, date(1900, 1, 1), far)])
    if kind == "park":
        pid = _int(scope_id)
        # a park's figures sum (and drill down to) every member's records: its manager, regulators and admins only
        park: Park = require_park(session, principal, pid, act="oversee")
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
    """Consecutive months with the same members for the whole month (`members`) and the same units whose
    membership starts or ends inside the month (`changing`)."""

    first: int
    last: int
    members: tuple[int, ...]
    changing: tuple[int, ...] = ()


@dataclass
class Plan:
    """How to read the months of a scope: balance rows wherever membership is constant over the month; the
    journal only for the units whose membership changes inside a month ("dirty" month), and for the records of
    other members that name such a unit as counterparty."""

    scope: Scope
    first: int
    last: int
    segments: list[Segment]
    dirty: list[int]
    changing: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # Whole years of the plan: {year: (units in the scope all year, units that join or leave during it)}. The
    # first read the yearly rows for the rows that do not name one of the second.
    yearly: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    _groups: list | None = field(default=None, repr=False)

    # -- balance rows ---------------------------------------------------------------------------------------------

    def _region_months(self, pb) -> ColumnElement:  # noqa: ANN001
        return or_(*(pb.c.month.between(s.first, s.last) for s in self.segments))

    def unit_groups(self) -> list[tuple[tuple[int, ...], tuple[tuple[int, int], ...]]]:
        """Units grouped by the month runs in which they are members for the whole month: usually one group for
        the units that stay in all along, and one per unit that joins or leaves (few conditions to plan)."""
        if self._groups is not None:
            return self._groups
        runs: dict[int, list[list[int]]] = {}
        for seg in self.segments:
            for u in seg.members:
                r = runs.setdefault(u, [])
                if r and r[-1][1] == _prev(seg.first):
                    r[-1][1] = seg.last
                else:
                    r.append([seg.first, seg.last])
        groups: dict[tuple[tuple[int, int], ...], list[int]] = {}
        for u, r in runs.items():
            groups.setdefault(tuple((a, b) for a, b in r), []).append(u)
        self._groups = [(tuple(sorted(us)), key) for key, us in groups.items()]
        return self._groups

    def _members_condition(self, unit_col, month_col) -> ColumnElement:  # noqa: ANN001
        parts = []
        for units, ranges in self.unit_groups():
            months_ = or_(*(month_col.between(a, b) for a, b in ranges))
            parts.append(and_(self.scope.ids(unit_col, units), months_))
        return or_(*parts) if parts else false()

    def balance_condition(self, pb) -> ColumnElement:  # noqa: ANN001
        if self.scope.kind == "region":
            return and_(self.scope.unit_condition(pb.c.unit_id), self._region_months(pb))
        cond = self._members_condition(pb.c.unit_id, pb.c.month)
        moving = [and_(pb.c.month == m, self.scope.ids(pb.c.counterparty_id, units))
                  for m, units in self.changing.items()]
        if moving:  # rows naming a unit that joins or leaves mid-month are read from the journal
            cond = and_(cond, ~or_(*moving))
        return cond

    def balance_counterparty_in(self, pb) -> ColumnElement:  # noqa: ANN001
        """The row's counterparty belongs to the scope for the whole of the row's month."""
        if self.scope.kind == "region":
            return and_(self.scope.unit_condition(pb.c.counterparty_id), self._region_months(pb))
        return self._members_condition(pb.c.counterparty_id, pb.c.month)

    # -- raw flows ------------------------------------------------------------------------------------------------

    def _ranges(self, only_dirty: bool) -> list[tuple[date, date]]:
        """The day ranges to read raw: every month of the plan as one range, or each run of dirty months."""
        if not only_dirty:
            return [(month_first(self.first), month_last(self.last))]
        runs: list[list[int]] = []
        for m in self.dirty:
            if runs and next_month(runs[-1][-1]) == m:
                runs[-1].append(m)
            else:
                runs.append([m])
        return [(month_first(r[0]), month_last(r[-1])) for r in runs]

    def _instant_windows(self, ranges: list[tuple[date, date]], units: set[int] | None = None
                         ) -> list[tuple[tuple[int, ...], datetime, datetime]]:
        """(units, from, to) UTC instant windows of the scope's membership inside the given day ranges, units with
        the same window together (one condition each)."""
        spans: dict[tuple[date, date], list[int]] = {}
        for first, last in ranges:
            for w in self.scope.windows(first, last):
                if units is None or w.unit_id in units:
                    spans.setdefault((w.start, w.end), []).append(w.unit_id)
        return [(tuple(sorted(set(us))), day_bounds_utc(a)[0], day_bounds_utc(b)[1])
                for (a, b), us in spans.items()]

    def raw_condition(self, x, *, only_dirty: bool) -> ColumnElement:  # noqa: ANN001
        """Condition on a flow_source row: its unit belongs to the scope on the record's date (`only_dirty`: only
        the units whose membership changes inside a dirty month, in that month)."""
        if self.scope.kind == "region":
            if only_dirty:
                return false()
            a, b = day_bounds_utc(month_first(self.first))[0], day_bounds_utc(month_last(self.last))[1]
            return and_(self.scope.unit_condition(x.c.unit_id), x.c.at >= a, x.c.at < b)
        if not only_dirty:
            parts = [and_(self.scope.ids(x.c.unit_id, units), x.c.at >= a, x.c.at < b)
                     for units, a, b in self._instant_windows(self._ranges(False))]
            return or_(*parts) if parts else false()
        parts = []
        for m in self.dirty:
            for units, a, b in self._instant_windows([(month_first(m), month_last(m))], set(self.changing[m])):
                parts.append(and_(self.scope.ids(x.c.unit_id, units), x.c.at >= a, x.c.at < b))
        return or_(*parts) if parts else false()

    def raw_counterpart_condition(self, x, naming: dict[int, set[int]]) -> ColumnElement:  # noqa: ANN001
        """Records in dirty months of the given units (`naming`: month → units that have balance rows naming a
        changing unit) whose counterparty is a unit whose membership changes in that month."""
        parts = []
        for m in self.dirty:
            units = sorted(naming.get(m, ()))
            if units:
                a, b = day_bounds_utc(month_first(m))[0], day_bounds_utc(month_last(m))[1]
                parts.append(and_(self.scope.ids(x.c.unit_id, units), x.c.at >= a, x.c.at < b,
                                  self.scope.ids(x.c.counterparty_id, self.changing[m])))
        return or_(*parts) if parts else false()

    def raw_counterparty_in(self, x, *, only_dirty: bool = False, changing_only: bool = False
                            ) -> ColumnElement:  # noqa: ANN001
        """Condition on a flow_source row: its counterparty belongs to the scope on the record's date."""
        if self.scope.kind == "region":
            if only_dirty:
                return false()
            a, b = day_bounds_utc(month_first(self.first))[0], day_bounds_utc(month_last(self.last))[1]
            return and_(self.scope.unit_condition(x.c.counterparty_id), x.c.at >= a, x.c.at < b)
        if changing_only:
            parts = []
            for m in self.dirty:
                for units, a, b in self._instant_windows([(month_first(m), month_last(m))], set(self.changing[m])):
                    parts.append(and_(self.scope.ids(x.c.counterparty_id, units), x.c.at >= a, x.c.at < b))
            return or_(*parts) if parts else false()
        parts = [and_(self.scope.ids(x.c.counterparty_id, units), x.c.at >= a, x.c.at < b)
                 for units, a, b in self._instant_windows(self._ranges(only_dirty))]
        return or_(*parts) if parts else false()


def plan(scope: Scope, first: int, last: int, *, only: set[int] | None = None) -> Plan:
    """Split months first..last (or only the months in `only`) into segments of constant membership and note the
    units whose membership changes inside a month."""
    if scope.kind == "region":
        runs: list[Segment] = []
        for m in months(first, last):
            if only is not None and m not in only:
                continue
            if runs and runs[-1].last == _prev(m):
                runs[-1].last = m
            else:
                runs.append(Segment(m, m, ()))
        years = _whole_years(first, last, only)
        return Plan(scope, runs[0].first if runs else first, runs[-1].last if runs else last, runs, [],
                    yearly={y: ((), ()) for y in years})
    segments: list[Segment] = []
    dirty: list[int] = []
    changing: dict[int, tuple[int, ...]] = {}
    for m in months(first, last):
        if only is not None and m not in only:
            continue
        a, b = month_first(m), month_last(m)
        inside = [w for w in scope.memberships if w.start <= b and w.end >= a]
        moving = tuple(sorted({w.unit_id for w in inside if (a < w.start <= b) or (a <= w.end < b)}))
        members = tuple(sorted({w.unit_id for w in inside if w.start <= a and w.end >= b} - set(moving)))
        if moving:
            dirty.append(m)
            changing[m] = moving
        if (segments and segments[-1].members == members and segments[-1].changing == moving
                and segments[-1].last == _prev(m) and not moving):
            segments[-1].last = m
        else:
            segments.append(Segment(m, m, members, moving))
    first_m = segments[0].first if segments else first
    last_m = segments[-1].last if segments else last
    yearly = {}
    for y in _whole_years(first, last, only):
        a, b = date(y, 1, 1), date(y, 12, 31)
        full = tuple(sorted({w.unit_id for w in scope.memberships if w.start <= a and w.end >= b}))
        moving = tuple(sorted({w.unit_id for w in scope.memberships
                               if (a < w.start <= b) or (a <= w.end < b)} - set(full)))
        yearly[y] = (full, moving)
    return Plan(scope, first_m, last_m, segments, dirty, changing, yearly)


def _whole_years(first: int, last: int, only: set[int] | None) -> list[int]:
    """The calendar years all of whose months the plan reads."""
    out = []
    for y in range(first // 100, last // 100 + 1):
        ms = [y * 100 + m for m in range(1, 13)]
        if ms[0] >= first and ms[-1] <= last and (only is None or all(m in only for m in ms)):
            out.append(y)
    return out


def _prev(m: int) -> int:
    y, mo = divmod(m, 100)
    return (y - 1) * 100 + 12 if mo == 1 else m - 1

