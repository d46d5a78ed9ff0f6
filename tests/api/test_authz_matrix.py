"""The authorisation matrix: every route of the OpenAPI × every role × ownership, with the expected answer of each.

How to read it
- ROLES: operator, unit_admin (of a plant), driver (of a hauler), receiver_operator (of a receiver), park_manager
  (of the park the three belong to), county/city/province regulators (370112 / 3701 / 37), admin, anonymous
  (no token) and revoked (a revoked token).
- OWNERSHIP: `own` is the caller's family of units (plant, hauler, receiver in 370112); `same_region` an other
  family in the same city (370102: seen by the city and province regulators, not the county's); `other_region`
  a family in 440305 (seen by no regulator of 37). A route acts on the caller's home unit of that family: the
  plant for operators and unit admins, the hauler for drivers, the receiver for receiver operators, the plant
  for everyone else; manifest routes act on that family's manifest (plant → hauler → receiver).
- Answers: OK (2xx), 401, 403 (visible, but the role may not), 404 (outside the caller's scope; not disclosed),
  ABSENT (a list that answers 200 without the target).
- GRIDS hold the expected answers (role → own, same_region, other_region), written out; MATRIX maps each route to
  a grid and a function building one request (preparing fresh state as the admin first, where the request
  consumes it).

Adding a route: add a line to MATRIX with a grid (or a new grid) and a builder. A route served by the app but
missing from MATRIX fails `test_every_route_is_in_the_matrix` with the line to add.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from ledger import batches, manifests, users
from ledger.accounts import ApiToken, User, issue_token
from ledger.auth import SYSTEM
from ledger.codes import credit_check_character
from ledger.db import reader
from ledger.journal import JournalRecord
from ledger.registry import assets, plans, units
from ledger.registry.models import ParkMemberRequest
from ledger.workdays import today as shanghai_today
from tests.api import authz_streams
from tests.conftest import _empty

OK, ABSENT = "OK", "ABSENT"
ROLES = ("operator", "unit_admin", "driver", "receiver_operator", "park_manager", "county_regulator",
         "city_regulator", "province_regulator", "admin", "anonymous", "revoked")
OWNERSHIP = ("own", "same_region", "other_region")
HOME = {"operator": "plant", "unit_admin": "plant", "driver": "hauler", "receiver_operator": "receiver"}
REGIONS = {"own": "370112", "same_region": "370102", "other_region": "440305"}
UN = (401, 401, 401)


def grid(**rows: tuple) -> dict[str, tuple]:
    """An expectation grid; every role must be written out (anonymous and revoked default to 401 everywhere)."""
    rows.setdefault("anonymous", UN)
    rows.setdefault("revoked", UN)
    assert set(rows) == set(ROLES), set(ROLES) ^ set(rows)
    assert all(len(v) == 3 for v in rows.values())
    return rows


# ---- the grids ------------------------------------------------------------------------------------------------

PUBLIC = grid(**{r: (OK, OK, OK) for r in ROLES})
ANY_USER = grid(**{r: (OK, OK, OK) for r in ROLES if r not in ("anonymous", "revoked")})
# See a unit (or its batch, facility, records, manifest): the unit's own users, its park's manager, regulators
# whose jurisdiction covers it, admins.
READ = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(OK, 404, 404),
            receiver_operator=(OK, 404, 404), park_manager=(OK, 404, 404), county_regulator=(OK, 404, 404),
            city_regulator=(OK, OK, 404), province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
LIST = grid(operator=(OK, ABSENT, ABSENT), unit_admin=(OK, ABSENT, ABSENT), driver=(OK, ABSENT, ABSENT),
            receiver_operator=(OK, ABSENT, ABSENT), park_manager=(OK, ABSENT, ABSENT),
            county_regulator=(OK, ABSENT, ABSENT), city_regulator=(OK, OK, ABSENT),
            province_regulator=(OK, OK, ABSENT), admin=(OK, OK, OK))
# Weigh, store, use, dispose, correct: operators, unit admins, receiver operators of the unit. Never a regulator.
OPERATE = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
               receiver_operator=(OK, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
               city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(OK, OK, OK))
# The unit's own registry data and its accounts: its admin only (and the platform admin).
REGISTER = grid(operator=(403, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
                receiver_operator=(403, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
                city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(OK, OK, OK))
ADMINISTER = REGISTER  # users and tokens of the unit: the same people, on purpose (regulators never)
# What an authority issues or decides (licences, permits, tier): regulators of the region, admins.
CERTIFY = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(403, 404, 404),
               receiver_operator=(403, 404, 404), park_manager=(403, 404, 404), county_regulator=(OK, 404, 404),
               city_regulator=(OK, OK, 404), province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
SUPERVISE = CERTIFY
# Cross-province approvals: held by the unit (its admin records it) or recorded by the issuing authority.
MANAGE = grid(operator=(403, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
              receiver_operator=(403, 404, 404), park_manager=(403, 404, 404), county_regulator=(OK, 404, 404),
              city_regulator=(OK, OK, 404), province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
# Register a unit or a park in a region: regulators whose jurisdiction covers it, admins.
IN_JURISDICTION = grid(operator=(403, 403, 403), unit_admin=(403, 403, 403), driver=(403, 403, 403),
                       receiver_operator=(403, 403, 403), park_manager=(403, 403, 403),
                       county_regulator=(OK, 403, 403), city_regulator=(OK, OK, 403),
                       province_regulator=(OK, OK, 403), admin=(OK, OK, OK))
# Parks: member units' users read their park; its manager and regulators oversee its requests.
PARK_READ = READ
PARK_LIST = LIST
PARK_OVERSEE = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(403, 404, 404),
                    receiver_operator=(403, 404, 404), park_manager=(OK, 404, 404),
                    county_regulator=(OK, 404, 404), city_regulator=(OK, OK, 404),
                    province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
PARK_SUPERVISE = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(403, 404, 404),
                      receiver_operator=(403, 404, 404), park_manager=(403, 404, 404),
                      county_regulator=(OK, 404, 404), city_regulator=(OK, OK, 404),
                      province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
PARK_REQUEST = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(403, 404, 404),
                    receiver_operator=(403, 404, 404), park_manager=(OK, 404, 404),
                    county_regulator=(403, 404, 404), city_regulator=(403, 403, 404),
                    province_regulator=(403, 403, 404), admin=(403, 403, 403))
# Manifests: each step is signed by the party whose step it is, with the right act on that party's unit.
DRAFT = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(404, 404, 404),
             receiver_operator=(404, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
             city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(OK, OK, OK))
AS_ORIGINATOR = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
                     receiver_operator=(403, 404, 404), park_manager=(403, 404, 404),
                     county_regulator=(403, 404, 404), city_regulator=(403, 403, 404),
                     province_regulator=(403, 403, 404), admin=(OK, OK, OK))
AS_HAULER = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(OK, 404, 404),
                 receiver_operator=(403, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
                 city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(OK, OK, OK))
AS_RECEIVER = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(403, 404, 404),
                   receiver_operator=(OK, 404, 404), park_manager=(403, 404, 404),
                   county_regulator=(403, 404, 404), city_regulator=(403, 403, 404),
                   province_regulator=(403, 403, 404), admin=(OK, OK, OK))
AS_HAULER_OR_RECEIVER = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(OK, 404, 404),
                             receiver_operator=(OK, 404, 404), park_manager=(403, 404, 404),
                             county_regulator=(403, 404, 404), city_regulator=(403, 403, 404),
                             province_regulator=(403, 403, 404), admin=(OK, OK, OK))
AS_PARTY = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(OK, 404, 404),
                receiver_operator=(OK, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
                city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(OK, OK, OK))
# A revision proposed by the originator is decided by the other parties (the admin is no party: 403).
AS_OTHER_PARTY = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(OK, 404, 404),
                      receiver_operator=(OK, 404, 404), park_manager=(403, 404, 404),
                      county_regulator=(403, 404, 404), city_regulator=(403, 403, 404),
                      province_regulator=(403, 403, 404), admin=(403, 403, 403))


# ---- the world ------------------------------------------------------------------------------------------------

_serial = itertools.count(1)


def _credit(region: str) -> str:
    first17 = f"91{region[:4]}00MA{next(_serial):07d}"[:17]
    return first17 + credit_check_character(first17)


@dataclass
class Family:
    """Three units of one region (plant, hauler, receiver; each registered in every role), their park."""

    region: str
    units: dict = field(default_factory=dict)  # kind -> Unit
    fac: dict = field(default_factory=dict)  # (kind, facility) -> Facility
    vehicles: dict = field(default_factory=dict)  # kind -> [Vehicle]
    park: object = None
    other_park: object = None


@dataclass
class Req:
    method: str
    path: str
    json: dict | None = None
    list_target: int | None = None  # for list routes: the id that must (or must not) be listed
    token: str | None = None  # a fresh token of the caller (logout ends the token it is sent with)
    files: dict | None = None  # a multipart upload instead of JSON


class World:
    """Built once per module; every request's fresh state is made through the services as the admin."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.engine = engine
        self.families: dict[str, Family] = {}
        self.tokens: dict[str, str] = {}
        self.users: dict[str, User] = {}
        self.cache: dict = {}
        self.serial = _serial
        with self.session() as s:
            for owner, region in REGIONS.items():
                self.families[owner] = self._family(s, region)
            a = self.families["own"]
            reg = {"county_regulator": "370112", "city_regulator": "3701", "province_regulator": "37"}
            bindings = {"operator": {"unit_id": a.units["plant"].id},
                        "unit_admin": {"unit_id": a.units["plant"].id},
                        "driver": {"unit_id": a.units["hauler"].id},
                        "receiver_operator": {"unit_id": a.units["receiver"].id},
                        "park_manager": {"park_id": a.park.id}, "admin": {},
                        **{k: {"region_prefix": v} for k, v in reg.items()}}
            for role, binding in bindings.items():
                real = role if not role.endswith("_regulator") else "regulator"
                self.users[role] = self._user(s, real, **binding)
                self.tokens[role] = issue_token(s, user=self.users[role], name="matrix")
            revoked = self._user(s, "operator", unit_id=a.units["plant"].id)
            self.tokens["revoked"] = issue_token(s, user=revoked, name="revoked")
            for t in s.exec(select(ApiToken).where(ApiToken.user_id == revoked.id)).all():
                t.revoked_at = datetime.now(UTC)
                s.add(t)
            self.login_user = self._user(s, "operator", unit_id=a.units["plant"].id)
            s.commit()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _user(self, s: Session, role: str, **binding) -> User:  # noqa: ANN003
        n = next(_serial)
        return users.create_user(s, principal=SYSTEM, data=users.UserCreate(
            username=f"m.{role}.{n}", display_name=role, role=role, password="password-123", **binding))

    def _family(self, s: Session, region: str) -> Family:
        f = Family(region=region)
        F, year = assets.FacilityCreate, shanghai_today().year
        for kind in ("plant", "hauler", "receiver"):
            u = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
                credit_code=_credit(region), name=f"{kind}{region}", region_code=region,
                roles=["generator", "hauler", "receiver", "collector"], lat=36.6, lon=117.0,
                address=f"{region}工业园{kind}路1号"))
            f.units[kind] = u
            f.fac[(kind, "gen")] = assets.create_facility(s, principal=SYSTEM, unit_id=u.id, data=F(
                kind="generation", code="CS-01", name="产废点"))
            f.fac[(kind, "store")] = assets.create_facility(s, principal=SYSTEM, unit_id=u.id, data=F(
                kind="storage", code="ZC-01", name="贮存库", storage_type="贮存库", storage_capacity_t=Decimal(500)))
            f.fac[(kind, "line")] = assets.create_facility(s, principal=SYSTEM, unit_id=u.id, data=F(
                kind="utilisation", code="LY-01", name="再生装置", methods=["R9"]))
            assets.create_permit(s, principal=SYSTEM, unit_id=u.id, data=assets.PermitCreate(
                kind="operating_licence", number=f"危证{u.id:05d}", waste_codes=["HW08"], methods=["R9"],
                valid_from=date(year - 1, 1, 1), valid_to=date(year + 5, 12, 31)))
            assets.create_permit(s, principal=SYSTEM, unit_id=u.id, data=assets.PermitCreate(
                kind="collection_licence", number=f"收证{u.id:05d}", waste_codes=["HW08"], methods=[],
                valid_from=date(year - 1, 1, 1), valid_to=date(year + 5, 12, 31)))
            assets.create_permit(s, principal=SYSTEM, unit_id=u.id, data=assets.PermitCreate(
                kind="transport_permit", number=f"运证{u.id:05d}", valid_from=date(year - 1, 1, 1),
                valid_to=date(year + 5, 12, 31)))
            f.vehicles[kind] = [assets.create_vehicle(s, principal=SYSTEM, unit_id=u.id, data=assets.VehicleCreate(
                plate=f"鲁{letter}{u.id:05d}")) for letter in ("A", "B")]
            plans.file_plan(s, principal=SYSTEM, unit_id=u.id, data=plans.PlanCreate(year=year, items=[
                plans.PlanItemIn(waste_code="900-249-08", planned_kg=Decimal(10**6))]))
        for attr, code in (("park", "P"), ("other_park", "Q")):
            setattr(f, attr, units.create_park(s, principal=SYSTEM, data=units.ParkCreate(
                code=f"{code}{region}", name=f"园区{code}{region}", region_code=region)))
        until = shanghai_today() + timedelta(days=400)
        for u in f.units.values():
            units.add_member(s, principal=SYSTEM, park_id=f.park.id, data=units.MemberCreate(
                unit_id=u.id, since=shanghai_today() - timedelta(days=30), until=until))
        return f

    # ---- targets ----------------------------------------------------------------------------------------------

    def home(self, role: str, owner: str) -> object:
        return self.families[owner].units[HOME.get(role, "plant")]

    def fresh_batch(self, unit, *, stored: bool = False) -> batches.Batch:  # noqa: ANN001
        f = next(f for f in self.families.values() if unit.id in {u.id for u in f.units.values()})
        kind = next(k for k, u in f.units.items() if u.id == unit.id)
        with self.session() as s:
            b = batches.generate(s, principal=SYSTEM, data=batches.BatchCreate(
                unit_id=unit.id, waste_code="900-249-08", name="废矿物油", form="液态",
                facility_id=f.fac[(kind, "gen")].id, container_type="桶", gross_kg=Decimal("120"),
                tare_kg=Decimal("20"), scale_id="S1", operator="王", occurred_at=datetime.now(UTC) - timedelta(
                    minutes=5), store_facility_id=f.fac[(kind, "store")].id if stored else None))
            s.commit()
            return b

    def manifest(self, owner: str, state: str) -> manifests.Manifest:
        """A fresh manifest of the family (plant → hauler → receiver) brought to `state` by the admin."""
        f = self.families[owner]
        b = self.fresh_batch(f.units["plant"])
        M = manifests
        with self.session() as s:
            m = M.create(s, principal=SYSTEM, data=M.ManifestCreate(
                originator_id=f.units["plant"].id, hauler_id=f.units["hauler"].id,
                vehicle_id=f.vehicles["hauler"][0].id, receiver_id=f.units["receiver"].id,
                planned_date=shanghai_today(), lines=[M.LineIn(batch_id=b.id, planned_method="R9")]))
            steps = ["draft", "submitted", "in_transit", "delivered", "received", "processed"]
            if state in ("refused", "returning"):
                steps = ["draft", "submitted", "in_transit", "delivered", "refused", "returning"]
            for step in steps[1:steps.index(state) + 1]:
                m = s.get(M.Manifest, m.id, populate_existing=True)
                if step == "submitted":
                    M.submit(s, principal=SYSTEM, m=m)
                elif step == "in_transit":
                    M.pickup(s, principal=SYSTEM, m=m, data=M.PickupIn(scanned=[b.digital_id]))
                elif step == "delivered":
                    M.deliver(s, principal=SYSTEM, m=m, data=M.Where())
                elif step in ("received", "refused"):
                    M.receive(s, principal=SYSTEM, m=m, data=M.ReceiveIn(lines=[M.ReceiveLineIn(
                        batch_id=b.id, received_kg=Decimal(100),
                        acceptance="accepted" if step == "received" else "refused",
                        reason=None if step == "received" else "包装破损")]))
                elif step == "returning":
                    M.start_return(s, principal=SYSTEM, m=m, data=M.Where())
                elif step == "processed":
                    line = M.lines_of(s, m)[0]
                    holding = s.get(batches.Batch, line.holding_id)
                    if batches.state_of(holding).stored_g:  # stored at receipt (接收贮存库): 出库 first
                        batches.retrieve(s, principal=SYSTEM, batch=holding, data=batches.RetrieveIn(operator="孙"))
                    batches.process_in_house(s, principal=SYSTEM, batch=holding, kind="used_in_house",
                                             data=batches.ProcessIn(method="R9", operator="孙"))
            s.commit()
            return s.get(M.Manifest, m.id, populate_existing=True)

    def pending_revision(self, owner: str) -> tuple[int, int]:
        m = self.manifest(owner, "in_transit")
        f = self.families[owner]
        with self.session() as s:
            m = s.get(manifests.Manifest, m.id)
            rev = manifests.propose_revision(s, principal=SYSTEM, m=m, data=manifests.RevisionIn(
                reason="换车", vehicle_id=f.vehicles["hauler"][1].id))
            s.commit()
            return m.id, rev.id

    def park_request(self, role: str, owner: str) -> tuple[int, int]:
        """A pending request from the family's second park to the caller's home unit (no overlap on accept)."""
        f, unit = self.families[owner], self.home(role, owner)
        with self.session() as s:
            day = shanghai_today() + timedelta(days=401 + 2 * next(_serial))  # one day each: no two overlap
            r = ParkMemberRequest(park_id=f.other_park.id, unit_id=unit.id, since=day, until=day)
            s.add(r)
            s.commit()
            return unit.id, r.id

    def fresh_unit(self, owner: str):  # noqa: ANN201
        with self.session() as s:
            u = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
                credit_code=_credit(REGIONS[owner]), name="新单位", region_code=REGIONS[owner], roles=["generator"]))
            s.commit()
            return u

    def subject(self, role: str, owner: str) -> tuple[User, ApiToken]:
        """An operator of the caller's home unit, with a token: whom user and token routes act on."""
        with self.session() as s:
            u = self._user(s, "operator", unit_id=self.home(role, owner).id)
            issue_token(s, user=u, name="subject")
            s.commit()
            return u, s.exec(select(ApiToken).where(ApiToken.user_id == u.id)).one()

    def first_line(self, m: manifests.Manifest) -> tuple[int, str]:
        """The batch id and digital ID of the manifest's first line."""
        with Session(reader(self.engine)) as s:
            line = manifests.lines_of(s, m)[0]
            return line.batch_id, s.get(batches.Batch, line.batch_id).digital_id

    def fresh_token(self, role: str) -> str | None:
        if role not in self.users:
            return None
        with self.session() as s:
            clear = issue_token(s, user=s.get(User, self.users[role].id), name="fresh")
            s.commit()
            return clear


# ---- request builders -----------------------------------------------------------------------------------------

Build = Callable[[World, str, str], Req]
V1 = "/api/v1"


def on_unit(suffix: str = "", method: str = "GET", body: Callable[[World, str, str], dict] | None = None) -> Build:
    def build(w: World, role: str, owner: str) -> Req:
        return Req(method, f"{V1}/units/{w.home(role, owner).id}{suffix}", body(w, role, owner) if body else None)
    return build


def on_batch(suffix: str = "", method: str = "GET", *, stored: bool = False,
             body: Callable[[World, batches.Batch], dict] | None = None) -> Build:
    def build(w: World, role: str, owner: str) -> Req:
        unit = w.home(role, owner)
        if method == "GET":  # reads share one batch per unit; writes get a fresh one
            b = w.cache.get(("batch", unit.id)) or w.cache.setdefault(("batch", unit.id), w.fresh_batch(unit))
        else:
            b = w.fresh_batch(unit, stored=stored)
        return Req(method, f"{V1}/batches/{b.id}{suffix}", body(w, b) if body else None)
    return build


def on_manifest(state: str, suffix: str = "", method: str = "POST", body: Callable | None = None) -> Build:
    def build(w: World, role: str, owner: str) -> Req:
        if method == "GET":  # reads share one manifest per family; each step gets a fresh one
            m = w.cache.get(("manifest", owner)) or w.cache.setdefault(("manifest", owner), w.manifest(owner, state))
        else:
            m = w.manifest(owner, state)
        return Req(method, f"{V1}/manifests/{m.id}{suffix}", body(w, m) if body else None)
    return build


def on_facility(suffix: str = "", method: str = "GET", body: Callable | None = None) -> Build:
    def build(w: World, role: str, owner: str) -> Req:
        kind = HOME.get(role, "plant")
        f = w.families[owner].fac[(kind, "store")]
        if body is not None:
            w.fresh_batch(w.home(role, owner), stored=True)
        return Req(method, f"{V1}/facilities/{f.id}{suffix}", body(w) if body else None)
    return build


def fixed(method: str, path: str, body: dict | None = None) -> Build:
    return lambda w, role, owner: Req(method, f"{V1}{path}", body)


def unit_body(w: World, role: str, owner: str) -> dict:
    return {"credit_code": _credit(REGIONS[owner]), "name": "新登记单位", "region_code": REGIONS[owner],
            "roles": ["generator"]}


def weighing(w: World, role: str, owner: str) -> dict:
    unit = w.home(role, owner)
    f = w.families[owner]
    kind = HOME.get(role, "plant")
    return {"unit_id": unit.id, "waste_code": "900-249-08", "name": "废矿物油", "form": "液态",
            "facility_id": f.fac[(kind, "gen")].id, "container_type": "桶", "gross_kg": "50", "tare_kg": "5",
            "scale_id": "S1", "operator": "王", "occurred_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat()}


def manifest_body(w: World, role: str, owner: str) -> dict:
    f = w.families[owner]
    b = w.fresh_batch(f.units["plant"])
    return {"originator_id": f.units["plant"].id, "hauler_id": f.units["hauler"].id,
            "vehicle_id": f.vehicles["hauler"][0].id, "receiver_id": f.units["receiver"].id,
            "planned_date": str(shanghai_today()), "lines": [{"batch_id": b.id, "planned_method": "R9"}]}


def listed(path: str, target: Callable[[World, str, str], int]) -> Build:
    return lambda w, role, owner: Req("GET", f"{V1}{path}", list_target=target(w, role, owner))


def users_body(w: World, role: str, owner: str) -> dict:
    return {"username": f"new.{next(_serial)}", "display_name": "新用户", "role": "operator",
            "unit_id": w.home(role, owner).id}


def token_for_subject(w: World, role: str, owner: str) -> Req:
    u, _ = w.subject(role, owner)
    return Req("POST", f"{V1}/tokens", {"name": "终端", "user_id": u.id})


def revoke_subject(w: World, role: str, owner: str) -> Req:
    _, t = w.subject(role, owner)
    return Req("POST", f"{V1}/tokens/{t.id}/revoke")


def logout(w: World, role: str, owner: str) -> Req:
    return Req("POST", f"{V1}/auth/logout", token=w.fresh_token(role))


def login(w: World, role: str, owner: str) -> Req:
    return Req("POST", f"{V1}/auth/login", {"username": w.login_user.username, "password": "password-123"})


def park_path(suffix: str = "", method: str = "GET", body: Callable | None = None) -> Build:
    def build(w: World, role: str, owner: str) -> Req:
        return Req(method, f"{V1}/parks/{w.families[owner].park.id}{suffix}", body(w, role, owner) if body else None)
    return build


def park_answer(verb: str) -> Build:
    def build(w: World, role: str, owner: str) -> Req:
        unit_id, request_id = w.park_request(role, owner)
        return Req("POST", f"{V1}/units/{unit_id}/park-requests/{request_id}/{verb}")
    return build


def decide(verb: str) -> Build:
    def build(w: World, role: str, owner: str) -> Req:
        mid, rid = w.pending_revision(owner)
        return Req("POST", f"{V1}/manifests/{mid}/revisions/{rid}/{verb}")
    return build


def scan(w: World, role: str, owner: str) -> Req:
    unit = w.home(role, owner)
    b = w.cache.get(("batch", unit.id)) or w.cache.setdefault(("batch", unit.id), w.fresh_batch(unit))
    return Req("GET", f"{V1}/scan/{b.digital_id}")


def correction(w: World, b: batches.Batch) -> dict:
    with Session(reader(w.engine)) as s:
        rec = s.exec(select(JournalRecord).where(JournalRecord.batch_id == b.id)).first()
    return {"record_id": rec.id, "mass_kg": "99", "reason": "复磅更正"}


def lot(w: World) -> dict:
    return {"waste_code": "900-249-08", "mass_kg": "1", "operator": "王"}


def approval(w: World, role: str, owner: str) -> dict:
    f = w.families[owner]
    return {"number": f"跨省{next(_serial)}", "receiver_id": f.units["receiver"].id, "waste_codes": ["900-249-08"],
            "cap_kg": "1000", "valid_from": str(shanghai_today()), "valid_to": str(shanghai_today() + timedelta(days=90))}


def member_request(w: World, role: str, owner: str) -> dict:
    return {"credit_code": w.fresh_unit(owner).credit_code, "since": str(shanghai_today())}


def member(w: World, role: str, owner: str) -> dict:
    return {"unit_id": w.fresh_unit(owner).id, "since": str(shanghai_today())}


def now() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


@dataclass(frozen=True)
class Row:
    expect: dict[str, tuple]
    build: Build


MATRIX: dict[str, Row] = {
    # meta and accounts
    "GET /api/v1/health": Row(PUBLIC, fixed("GET", "/health")),
    "POST /api/v1/auth/login": Row(PUBLIC, login),
    "POST /api/v1/auth/logout": Row(ANY_USER, logout),
    "GET /api/v1/auth/me": Row(ANY_USER, fixed("GET", "/auth/me")),
    "POST /api/v1/users": Row(ADMINISTER, lambda w, r, o: Req("POST", f"{V1}/users", users_body(w, r, o))),
    "GET /api/v1/tokens": Row(ANY_USER, fixed("GET", "/tokens")),
    "POST /api/v1/tokens": Row(ADMINISTER, token_for_subject),
    "POST /api/v1/tokens/{token_id}/revoke": Row(ADMINISTER, revoke_subject),
    # registry
    "POST /api/v1/units": Row(IN_JURISDICTION, lambda w, r, o: Req("POST", f"{V1}/units", unit_body(w, r, o))),
    "GET /api/v1/units": Row(LIST, listed("/units", lambda w, r, o: w.home(r, o).id)),
    "GET /api/v1/units/{unit_id}": Row(READ, on_unit()),
    "POST /api/v1/units/{unit_id}/tier": Row(SUPERVISE, on_unit("/tier", "POST", lambda w, r, o: {
        "tier": "key", "reason": "重点排污单位名录"})),
    "POST /api/v1/units/{unit_id}/facilities": Row(REGISTER, on_unit("/facilities", "POST", lambda w, r, o: {
        "kind": "storage", "code": f"ZC-{next(_serial)}", "name": "新库", "storage_type": "贮存点"})),
    "GET /api/v1/units/{unit_id}/facilities": Row(READ, on_unit("/facilities")),
    "POST /api/v1/units/{unit_id}/permits": Row(CERTIFY, on_unit("/permits", "POST", lambda w, r, o: {
        "kind": "operating_licence", "number": f"新证{next(_serial)}", "waste_codes": ["HW08"], "methods": ["R9"],
        "valid_from": str(shanghai_today()), "valid_to": str(shanghai_today() + timedelta(days=365))})),
    "GET /api/v1/units/{unit_id}/permits": Row(READ, on_unit("/permits")),
    "POST /api/v1/units/{unit_id}/vehicles": Row(REGISTER, on_unit("/vehicles", "POST", lambda w, r, o: {
        "plate": f"鲁C{next(_serial):05d}"})),
    "GET /api/v1/units/{unit_id}/vehicles": Row(READ, on_unit("/vehicles")),
    "POST /api/v1/units/{unit_id}/plans": Row(REGISTER, on_unit("/plans", "POST", lambda w, r, o: {
        "year": shanghai_today().year, "items": [{"waste_code": "900-249-08", "planned_kg": "1000"}]})),
    "GET /api/v1/units/{unit_id}/plans": Row(READ, on_unit("/plans")),
    "POST /api/v1/units/{unit_id}/economics": Row(REGISTER, on_unit("/economics", "POST", lambda w, r, o: {
        "year": shanghai_today().year - 1, "value_added_10k": "100.5", "output_value_10k": "800"})),
    "GET /api/v1/units/{unit_id}/economics": Row(READ, on_unit("/economics")),
    "POST /api/v1/parks": Row(IN_JURISDICTION, lambda w, r, o: Req("POST", f"{V1}/parks", {
        "code": f"NEW{next(_serial)}", "name": "新园区", "region_code": REGIONS[o]})),
    "GET /api/v1/parks": Row(PARK_LIST, listed("/parks", lambda w, r, o: w.families[o].park.id)),
    "GET /api/v1/parks/{park_id}": Row(PARK_READ, park_path()),
    "POST /api/v1/parks/{park_id}/members": Row(PARK_SUPERVISE, park_path("/members", "POST", member)),
    "POST /api/v1/parks/{park_id}/member-requests": Row(PARK_REQUEST, park_path("/member-requests", "POST",
                                                                                  member_request)),
    "GET /api/v1/parks/{park_id}/member-requests": Row(PARK_OVERSEE, park_path("/member-requests")),
    "GET /api/v1/units/{unit_id}/park-requests": Row(READ, on_unit("/park-requests")),
    "POST /api/v1/units/{unit_id}/park-requests/{request_id}/accept": Row(REGISTER, park_answer("accept")),
    "POST /api/v1/units/{unit_id}/park-requests/{request_id}/reject": Row(REGISTER, park_answer("reject")),
    "GET /api/v1/catalogue/waste-codes": Row(ANY_USER, fixed("GET", "/catalogue/waste-codes?q=矿物油")),
    "GET /api/v1/catalogue/waste-codes/{code}": Row(ANY_USER, fixed("GET", "/catalogue/waste-codes/900-249-08")),
    "GET /api/v1/catalogue/methods": Row(ANY_USER, fixed("GET", "/catalogue/methods")),
    # batches, facilities, the journal
    "POST /api/v1/batches": Row(OPERATE, lambda w, r, o: Req("POST", f"{V1}/batches", weighing(w, r, o))),
    "POST /api/v1/batches/bulk": Row(OPERATE, lambda w, r, o: Req("POST", f"{V1}/batches/bulk", {
        "items": [weighing(w, r, o), weighing(w, r, o)]})),
    "GET /api/v1/batches/{batch_id}": Row(READ, on_batch()),
    "GET /api/v1/batches/{batch_id}/label.png": Row(READ, on_batch("/label.png")),
    "GET /api/v1/batches/{batch_id}/label.pdf": Row(READ, on_batch("/label.pdf")),
    "GET /api/v1/batches/{batch_id}/label.zpl": Row(READ, on_batch("/label.zpl")),
    "POST /api/v1/batches/{batch_id}/store": Row(OPERATE, lambda w, r, o: on_batch("/store", "POST", body=lambda
        w, b: {"facility_id": w.families[o].fac[(HOME.get(r, "plant"), "store")].id, "operator": "李"})(w, r, o)),
    "POST /api/v1/batches/{batch_id}/retrieve": Row(OPERATE, on_batch("/retrieve", "POST", stored=True,
                                                                      body=lambda w, b: {"operator": "李"})),
    "POST /api/v1/batches/{batch_id}/use-in-house": Row(OPERATE, on_batch("/use-in-house", "POST", body=lambda w, b: {
        "method": "R9", "operator": "赵"})),
    "POST /api/v1/batches/{batch_id}/dispose-in-house": Row(OPERATE, on_batch("/dispose-in-house", "POST",
                                                                              body=lambda w, b: {
                                                                                  "method": "D10", "operator": "赵"})),
    "POST /api/v1/batches/{batch_id}/corrections": Row(OPERATE, on_batch("/corrections", "POST", body=correction)),
    "GET /api/v1/batches/{batch_id}/trace": Row(READ, on_batch("/trace")),
    "GET /api/v1/scan/{digital_id}": Row(READ, scan),
    "GET /api/v1/facilities/{facility_id}": Row(READ, on_facility()),
    "GET /api/v1/facilities/{facility_id}/qr.png": Row(READ, on_facility("/qr.png")),
    "POST /api/v1/facilities/{facility_id}/retrieve": Row(OPERATE, on_facility("/retrieve", "POST", lot)),
    "GET /api/v1/units/{unit_id}/verify": Row(READ, on_unit("/verify")),
    "GET /api/v1/units/{unit_id}/records": Row(READ, on_unit("/records")),
    "GET /api/v1/units/{unit_id}/ledger": Row(READ, on_unit(f"/ledger?from={shanghai_today().replace(day=1)}&to="
                                                          f"{shanghai_today()}")),
    # manifests
    "POST /api/v1/manifests": Row(DRAFT, lambda w, r, o: Req("POST", f"{V1}/manifests", manifest_body(w, r, o))),
    "GET /api/v1/manifests": Row(LIST, lambda w, r, o: Req("GET", f"{V1}/manifests?limit=1000", list_target=(
        w.cache.get(("manifest", o)) or w.cache.setdefault(("manifest", o), w.manifest(o, "draft"))).id)),
    "GET /api/v1/manifests/{manifest_id}": Row(READ, on_manifest("draft", method="GET")),
    "GET /api/v1/manifests/{manifest_id}.pdf": Row(READ, on_manifest("draft", ".pdf", "GET")),
    "POST /api/v1/manifests/{manifest_id}/submit": Row(AS_ORIGINATOR, on_manifest("draft", "/submit")),
    "POST /api/v1/manifests/{manifest_id}/cancel": Row(AS_ORIGINATOR, on_manifest("draft", "/cancel", body=lambda
                                                                                   w, m: {"reason": "车辆调度"})),
    "POST /api/v1/manifests/{manifest_id}/pickup": Row(AS_HAULER, on_manifest("submitted", "/pickup", body=lambda
                                                                              w, m: {"scanned": [w.first_line(m)[1]]})),
    "POST /api/v1/manifests/{manifest_id}/track": Row(AS_HAULER, on_manifest("in_transit", "/track", body=lambda
                                                                            w, m: {"points": [{
                                                                                "at": now(), "lat": 36.6,
                                                                                "lon": 117.0}]})),
    "POST /api/v1/manifests/{manifest_id}/deliver": Row(AS_HAULER_OR_RECEIVER, on_manifest("in_transit", "/deliver",
                                                                                          body=lambda w, m: {})),
    "POST /api/v1/manifests/{manifest_id}/receive": Row(AS_RECEIVER, on_manifest("delivered", "/receive", body=lambda
        w, m: {"lines": [{"batch_id": w.first_line(m)[0], "received_kg": "100", "acceptance": "accepted"}]})),
    "POST /api/v1/manifests/{manifest_id}/complete": Row(AS_RECEIVER, on_manifest("processed", "/complete")),
    "POST /api/v1/manifests/{manifest_id}/return": Row(AS_HAULER, on_manifest("refused", "/return", body=lambda
                                                                              w, m: {})),
    "POST /api/v1/manifests/{manifest_id}/returned": Row(AS_ORIGINATOR, on_manifest("returning", "/returned",
                                                                                   body=lambda w, m: {})),
    "POST /api/v1/manifests/{manifest_id}/revisions": Row(AS_PARTY, on_manifest("in_transit", "/revisions", body=lambda
        w, m: {"reason": "换车", "vehicle_id": next(f for f in w.families.values() if f.units["hauler"].id ==
                                                    m.hauler_id).vehicles["hauler"][1].id})),
    "POST /api/v1/manifests/{manifest_id}/revisions/{revision_id}/approve": Row(AS_OTHER_PARTY, decide("approve")),
    "POST /api/v1/manifests/{manifest_id}/revisions/{revision_id}/reject": Row(AS_OTHER_PARTY, decide("reject")),
    "POST /api/v1/units/{unit_id}/transfer-approvals": Row(MANAGE, on_unit("/transfer-approvals", "POST",
                                                                           approval)),
}

MATRIX.update(authz_streams.rows(Req, Row, {"READ": READ, "LIST": LIST, "ANY_USER": ANY_USER, "OPERATE": OPERATE,
                                            "REGISTER": REGISTER, "MANAGE": MANAGE, "CERTIFY": CERTIFY}))


# ---- the tests ------------------------------------------------------------------------------------------------

def served_routes(app) -> Iterator[str]:  # noqa: ANN001
    spec = TestClient(app).get("/api/v1/openapi.json").json()
    for path, item in spec["paths"].items():
        for method in item:
            yield f"{method.upper()} {path}"


def test_every_route_is_in_the_matrix(app):
    served = set(served_routes(app))
    missing = sorted(served - set(MATRIX))
    stale = sorted(set(MATRIX) - served)
    lines = [f'    "{r}": Row(<GRID>, <build>),' for r in missing]
    assert not missing, ("routes missing from the authorisation matrix (tests/api/test_authz_matrix.py, MATRIX); "
                         "add a row for each, with the grid of who may call it:\n" + "\n".join(lines))
    assert not stale, f"rows for routes the app no longer serves: {stale}"


@pytest.fixture(autouse=True)
def clean():  # noqa: PT004  (the module's world is emptied once, by `world`)
    yield


@pytest.fixture(scope="module")
def world(engine) -> Iterator[World]:  # noqa: ANN001
    from alerts import settings as alert_settings

    _empty(engine)
    # A forwarded high alert goes to the enforcement system's endpoint (queued in the outbox; no job delivers it here).
    mp = pytest.MonkeyPatch()
    mp.setenv("LEDGER_ALERTS_ENFORCEMENT_URL", "https://enforcement.example.test/alerts")
    mp.setenv("LEDGER_ALERTS_ENFORCEMENT_SECRET", "matrix-secret")
    alert_settings.config.cache_clear()
    yield World(engine)
    mp.undo()
    alert_settings.config.cache_clear()
    _empty(engine)


def outcome(r, req: Req) -> object:  # noqa: ANN001
    if 200 <= r.status_code < 300:
        if req.list_target is not None:
            body = r.json()
            items = body["items"] if isinstance(body, dict) else body
            return OK if req.list_target in {x["id"] for x in items} else ABSENT
        return OK
    return r.status_code


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_authorisation_matrix(route, client, world):
    row = MATRIX[route]
    wrong = []
    for role, owner in itertools.product(ROLES, OWNERSHIP):
        want = row.expect[role][OWNERSHIP.index(owner)]
        req = row.build(world, role, owner)
        assert f"{req.method} {req.path.split('?')[0]}".startswith(route.split("{")[0]), (route, req.path)
        token = req.token or world.tokens.get(role)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client.cookies.clear()
        if req.files is not None:
            r = client.request(req.method, req.path, files=req.files, headers=headers)
        else:
            r = client.request(req.method, req.path, json=req.json, headers=headers)
        got = outcome(r, req)
        if got != want:
            wrong.append(f"{role:>18} × {owner:<12} expected {want}, got {got}: {r.text[:160]}")
    assert not wrong, f"{route}:\n" + "\n".join(wrong)
