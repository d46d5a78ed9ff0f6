"""Principals, roles and jurisdictions: who may see and do what. The one place access is decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import exists, false, insert, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, select

from ledger.accounts import UNIT_ROLES, USER_ROLES, AuditLog, User
from ledger.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from ledger.registry.models import Park, ParkMember, Unit
from ledger.types import utcnow
from ledger.workdays import today as shanghai_today

_hasher = PasswordHasher()

# Acts. Rights are distinct: seeing is not supervising, supervising is not acting as the unit, and acting is
# not administering its accounts.
#   read        see the unit, its registry, records, manifests
#   supervise   regulators: tier overrides, alert handling (`regulate` is an old name for it)
#   certify     record what an authority issued to the unit: operating licences, transport permits (and,
#               through `manage`, cross-province approvals)
#   operate     weigh, label, store, use and dispose in-house, draft and sign manifests as originator
#   receive     sign receipts (the receiver), haul: sign pickups and the road (the hauler)
#   register    the unit's own registry data: facilities, vehicles, plans, economics, park-membership answers
#   administer  the unit's users and their tokens
# A regulator reads, supervises and certifies within its jurisdiction; it never operates, registers or
# administers a unit (it cannot act as one of its users). A park manager reads its park's units.
ACTS = ("read", "supervise", "certify", "operate", "receive", "haul", "register", "administer")
UNIT_ACTS = {
    "operator": {"read", "operate"},
    "unit_admin": {"read", "operate", "receive", "haul", "register", "administer"},
    "driver": {"read", "haul"},
    "receiver_operator": {"read", "receive", "operate"},
}
REGULATOR_ACTS = {"read", "supervise", "certify"}
PARK_MANAGER_ACTS = {"read"}
# Old act names still used by callers: `regulate` is supervising; `manage` (registry facts held by the unit,
# e.g. a cross-province approval) is allowed to whoever may register or certify them.
ACT_ALIASES = {"regulate": ("supervise",), "manage": ("register", "certify")}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request or job."""

    user_id: int
    username: str
    role: str
    unit_id: int | None = None
    park_id: int | None = None
    region_prefix: str | None = None
    token_id: int | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, user: User, *, token_id: int | None = None, source_ip: str | None = None,
           user_agent: str | None = None) -> Principal:
        return cls(user_id=user.id, username=user.username, role=user.role, unit_id=user.unit_id,
                   park_id=user.park_id, region_prefix=user.region_prefix, token_id=token_id,
                   source_ip=source_ip, user_agent=user_agent)


SYSTEM = Principal(user_id=0, username="system", role="admin")


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """True when `password` matches the user's argon2 hash (constant work even for unknown users)."""
    if user is None or not user.password_hash or not user.active:
        _hasher.hash(password)  # spend the same time as a real check
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def require_principal(principal: Principal | None) -> Principal:
    """The principal, or 401."""
    if principal is None:
        raise Unauthenticated("send 'Authorization: Bearer <token>' or log in first")
    return principal


def _park_member_clause(park_id: int, unit_col) -> ColumnElement[bool]:  # noqa: ANN001
    today = shanghai_today()
    return exists().where(
        ParkMember.park_id == park_id,
        ParkMember.unit_id == unit_col,
        ParkMember.since <= today,
        or_(ParkMember.until.is_(None), ParkMember.until >= today),
    )


def unit_scope(principal: Principal, unit_id_col=None, region_col=None) -> ColumnElement[bool]:  # noqa: ANN001
    """A SQL condition selecting the units `principal` may see (for list queries)."""
    unit_id_col = Unit.id if unit_id_col is None else unit_id_col
    region_col = Unit.region_code if region_col is None else region_col
    if principal.is_admin:
        return true()
    if principal.role == "regulator" and principal.region_prefix:
        return region_col.startswith(principal.region_prefix)
    if principal.role == "park_manager" and principal.park_id:
        return _park_member_clause(principal.park_id, unit_id_col)
    if principal.unit_id is not None:
        return unit_id_col == principal.unit_id
    return false()


def park_units(session: Session, *, park_id: int, on: date) -> frozenset[int]:
    """The units that belong to the park on `on`. Memberships are registry rows: the set comes from the registry
    cache (`ledger.cache.cached`), read once per park and day until a membership changes."""
    from ledger.cache import cached

    return cached(session, ("park_units", park_id, on), lambda: frozenset(session.exec(
        select(ParkMember.unit_id).where(ParkMember.park_id == park_id, ParkMember.since <= on,
                                         or_(ParkMember.until.is_(None), ParkMember.until >= on))).all()))


def in_park(session: Session, *, park_id: int, unit_id: int, on: date | None = None) -> bool:
    """True when the unit belongs to the park on `on` (default today)."""
    return unit_id in park_units(session, park_id=park_id, on=on or shanghai_today())


def can_see_unit(session: Session, principal: Principal, unit: Unit) -> bool:
    """True when the unit is inside the principal's units, park or jurisdiction."""
    if principal.is_admin:
        return True
    if principal.role == "regulator":
        return bool(principal.region_prefix) and unit.region_code.startswith(principal.region_prefix)
    if principal.role == "park_manager":
        return principal.park_id is not None and in_park(session, park_id=principal.park_id, unit_id=unit.id)
    return principal.unit_id == unit.id


def acts_of(principal: Principal, unit: Unit) -> set[str]:
    """The acts the principal may perform on `unit` (assumes it can see it)."""
    if principal.is_admin:
        return set(ACTS)
    if principal.role == "regulator":
        inside = bool(principal.region_prefix) and unit.region_code.startswith(principal.region_prefix)
        return set(REGULATOR_ACTS) if inside else set()
    if principal.role == "park_manager":
        return set(PARK_MANAGER_ACTS)
    if principal.unit_id != unit.id:
        return set()
    return set(UNIT_ACTS.get(principal.role, ()))


def may(principal: Principal, unit: Unit, act: str, *, session: Session | None = None) -> bool:
    """True when the principal may perform `act` on `unit` (assumes it can see it)."""
    if act not in ACTS and act not in ACT_ALIASES:
        raise ValueError(f"unknown act {act!r}")
    return bool(acts_of(principal, unit) & set(ACT_ALIASES.get(act, (act,))))


def registry_unit(session: Session, unit_id: int) -> Unit | None:
    """A read-only snapshot of a unit from the registry cache (the hot write paths only read it)."""
    from ledger.cache import registry_get

    return registry_get(session, Unit, unit_id)


def require_unit(session: Session, principal: Principal, unit_id: int, *, act: str = "read",
                 read_only: bool = False) -> Unit:
    """The unit if the principal may `act` on it: 404 when it is outside their scope, 403 when the role forbids.
    `read_only`: the caller only reads the unit, so a cached snapshot will do."""
    unit = registry_unit(session, unit_id) if read_only else session.get(Unit, unit_id)
    if unit is None or not can_see_unit(session, principal, unit):
        raise NotFound(f"unit {unit_id} does not exist or is outside your scope", code="unit.not_found",
                       details={"unit_id": unit_id})
    if not may(principal, unit, act, session=session):
        raise Forbidden(f"your role '{principal.role}' may not {act} unit {unit_id}",
                        code="auth.forbidden", details={"unit_id": unit_id, "act": act})
    return unit


def require_park(session: Session, principal: Principal, park_id: int, *, act: str = "read") -> Park:
    """The park if the principal may `act` on it: 404 outside its scope, 403 when its role may not.

    read: its park manager, a regulator of its region, an admin, and the users of its member units. oversee (its
    membership requests): its manager, a regulator of its region, an admin. supervise (record memberships, create
    its manager): a regulator of its region or an admin. request (ask a unit to join): its park manager.
    """
    park = session.get(Park, park_id)
    manager = principal.role == "park_manager" and principal.park_id == park_id
    regulator = (park is not None and principal.role == "regulator"
                 and park.region_code.startswith(principal.region_prefix or "~"))
    member = (park is not None and principal.unit_id is not None
              and in_park(session, park_id=park_id, unit_id=principal.unit_id))
    if park is None or not (principal.is_admin or manager or regulator or member):
        raise NotFound(f"park {park_id} does not exist or is outside your scope", code="park.not_found",
                       details={"park_id": park_id})
    allowed = {"read": True,
               "oversee": principal.is_admin or manager or regulator,
               "supervise": principal.is_admin or regulator,
               "request": manager}.get(act)
    if allowed is None:
        raise ValueError(f"unknown park act {act!r}")
    if not allowed:
        hint = (" (a park manager asks the unit: POST /parks/{id}/member-requests; the unit's admin accepts)"
                if principal.role == "park_manager" and act == "supervise" else "")
        raise Forbidden(f"your role '{principal.role}' may not {act} park {park_id}{hint}", code="auth.forbidden",
                        details={"park_id": park_id, "act": act})
    return park


def require_role(principal: Principal, *roles: str) -> None:
    """403 unless the principal has one of `roles` (admin always passes)."""
    if principal.is_admin or principal.role in roles:
        return
    raise Forbidden(f"this needs one of the roles {', '.join(roles)}; you are '{principal.role}'",
                    code="auth.forbidden", details={"roles": list(roles)})


def check_region_in_jurisdiction(principal: Principal, region_code: str, *, field: str = "region_code") -> None:
    """403 unless a regulator's jurisdiction covers `region_code` (admins cover everything)."""
    if principal.is_admin:
        return
    if principal.role == "regulator" and region_code.startswith(principal.region_prefix or "~"):
        return
    raise Forbidden(f"region {region_code} is outside your jurisdiction", code="auth.outside_jurisdiction",
                    details={"field": field})


def check_grant(session: Session, principal: Principal, *, role: str, unit_id: int | None, park_id: int | None,
                region_prefix: str | None) -> None:
    """403 unless the principal may create a user with this binding (no one grants beyond their own scope)."""
    if role not in USER_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(USER_ROLES)}", field="role")
    if role in UNIT_ROLES and unit_id is None:
        raise InvalidInput(f"role '{role}' needs a unit_id", field="unit_id")
    if role == "park_manager" and park_id is None:
        raise InvalidInput("role 'park_manager' needs a park_id", field="park_id")
    if role == "regulator" and (not region_prefix or len(region_prefix) not in (2, 4, 6)
                                or not region_prefix.isdigit()):
        raise InvalidInput("role 'regulator' needs a region_prefix of 2, 4 or 6 digits", field="region_prefix")
    if principal.is_admin:
        return
    if role == "admin":
        raise Forbidden("only an admin can create admins", code="auth.forbidden")
    if role in UNIT_ROLES:  # only the unit's own admin: a regulator never makes (or becomes) a unit's user
        require_unit(session, principal, unit_id, act="administer")
        return
    if role == "park_manager" and principal.role == "regulator":
        require_park(session, principal, park_id, act="supervise")
        return
    if role == "regulator" and principal.role == "regulator" and region_prefix.startswith(principal.region_prefix or "~"):
        return
    raise Forbidden(f"you may not create a '{role}' user", code="auth.forbidden")


def audit(session: Session, principal: Principal, *, action: str, entity: str, entity_id: object = None,
          detail: dict | None = None) -> None:
    """Record one write in the audit log, inside the caller's transaction: one prebuilt INSERT, at once (no object
    for the ORM's unit of work to flush: nothing reads the row back in the transaction)."""
    session.execute(_AUDIT, {"at": utcnow(), "user_id": principal.user_id or None, "token_id": principal.token_id,
                             "action": action, "entity": entity,
                             "entity_id": None if entity_id is None else str(entity_id),
                             "source_ip": principal.source_ip, "user_agent": (principal.user_agent or "")[:200] or None,
                             "detail": detail or {}})


_AUDIT = insert(AuditLog.__table__)  # built once: building a statement costs about as much Python as executing it


# ==== Collectors acting for small producers, and traders in the hall ================================
# A collector's user may operate a small producer's unit only through that producer's live consent to that
# collector, and only inside the collection services that ask for it here (weighing and labelling at the door,
# filing a pickup order for the producer). It gets a principal bound to the producer with the operator's acts
# (read, operate) and marked with the consent, so every record it writes says who was logged in and under which
# consent (`batches.signed_by`). Nothing else hands this principal out; a regulator or park manager never gets one.

DELEGATED_ROLE = "operator"  # what a consent lets a collector's user do on the producer's unit: read and operate


def act_for_producer(session: Session, principal: Principal, *, producer_id: int, purpose: str) -> Principal:
    """A principal acting for a small producer under its live consent to the caller's collector unit (403 with what
    to do when there is none: the producer grants it at POST /units/{id}/consents)."""
    from ledger.collection.models import Consent

    if principal.role not in UNIT_ROLES or principal.unit_id is None:
        raise Forbidden(f"only a collector's own users act for a producer (you are '{principal.role}'); a regulator "
                        "supervises a unit and never acts as one", code="auth.forbidden")
    collector = session.get(Unit, principal.unit_id)
    if collector is None or not collector.is_collector:
        raise Forbidden("only a collector acts for a small producer, under the producer's consent",
                        code="consent.not_collector", details={"unit_id": principal.unit_id})
    if not (may(principal, collector, "operate") or may(principal, collector, "haul")):
        raise Forbidden(f"your role '{principal.role}' may not operate for {collector.name}", code="auth.forbidden")
    today = shanghai_today()
    q = select(Consent).where(Consent.unit_id == producer_id, Consent.collector_id == collector.id,
                              Consent.revoked_at.is_(None), Consent.valid_from <= today,
                              or_(Consent.valid_to.is_(None), Consent.valid_to >= today))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()  # a concurrent revocation waits for this filing, or this filing sees it revoked
    consent = session.exec(q).first()
    if consent is None:
        revoked = session.exec(select(Consent).where(Consent.unit_id == producer_id,
                                                     Consent.collector_id == collector.id,
                                                     Consent.revoked_at.is_not(None))
                               .order_by(Consent.revoked_at.desc())).first()
        if revoked is not None:
            raise Forbidden(f"unit {producer_id} revoked its consent to {collector.name} on "
                            f"{revoked.revoked_at:%Y-%m-%d}: {collector.name} may no longer {purpose} for it; the "
                            "producer files itself, or grants consent again", code="consent.revoked",
                            details={"consent_id": revoked.id, "producer_id": producer_id})
        raise Forbidden(f"unit {producer_id} has not consented to {collector.name} filing for it: ask the producer "
                        f"to grant consent (POST /units/{producer_id}/consents) before you {purpose} for it",
                        code="consent.missing", details={"producer_id": producer_id, "collector_id": collector.id})
    return Principal(user_id=principal.user_id, username=principal.username, role=DELEGATED_ROLE,
                     unit_id=producer_id, token_id=principal.token_id, source_ip=principal.source_ip,
                     user_agent=principal.user_agent,
                     extra={"consent_id": consent.id, "collector_id": collector.id, "real_role": principal.role,
                            "purpose": purpose})


def require_trader(session: Session, principal: Principal, unit_id: int) -> Unit:
    """The unit if the caller may post or answer in the trading hall for it: its own users with the operate act.
    A regulator supervises the hall (reads it) and never trades."""
    if principal.role in ("regulator", "park_manager"):
        raise Forbidden(f"a {principal.role.replace('_', ' ')} supervises the trading hall; it does not post or "
                        "offer for a unit", code="auth.forbidden")
    unit = require_unit(session, principal, unit_id, act="operate")
    return unit


# ==== alerts: who may read and handle risk alerts =====================================================
# Routes (Shandong, seed 004 §五.9): low alerts go straight to the unit, whose rectification closes them; mid
# alerts are pushed by the county/city regulator, rectified by the unit and accepted (or rejected) by that regulator;
# high alerts are pushed by the province to the city, which verifies and reports back, and the province accepts or
# forwards a possible offence to enforcement. Regulators supervise: they never rectify on a unit's behalf.

ALERT_ACTS = ("read", "push", "rectify", "accept", "reject", "close", "forward")
REGULATOR_LEVELS = {2: "province", 4: "city", 6: "county"}


def regulator_level(principal: Principal) -> str | None:
    """'province' (2-digit prefix), 'city' (4) or 'county' (6) for a regulator; None for anyone else."""
    if principal.role != "regulator" or not principal.region_prefix:
        return None
    return REGULATOR_LEVELS.get(len(principal.region_prefix))


def _alert_rule(act: str, tier: str) -> tuple[set[str], str]:
    """(who may, in words) for an act on an alert of `tier`: 'unit_admin' or regulator levels."""
    local = {"city", "county"}
    if act == "push":
        return ({"province"}, "the provincial regulator") if tier == "high" else (local, "the county or city regulator")
    if act == "rectify":
        return (local, "the city or county regulator (verification report)") if tier == "high" else (
            {"unit_admin"}, "the unit's administrator (unit_admin)")
    if act in ("accept", "reject"):
        return ({"province"}, "the provincial regulator") if tier == "high" else (local, "the county or city regulator")
    if act == "close":
        return ({"province"}, "the provincial regulator") if tier == "high" else (
            {"province", "city", "county"}, "a regulator of the unit's region")
    if act == "forward":
        return {"province"}, "the provincial regulator"
    return set(), "nobody"


def may_on_alert(principal: Principal, act: str, *, tier: str, unit_id: int, region_code: str) -> bool:
    """True when the principal may `act` on an alert of `tier` about a unit (assumes it can see the alert)."""
    if act not in ALERT_ACTS:
        raise ValueError(f"unknown alert act {act}")
    if principal.is_admin:
        return True
    if act == "read":
        return True
    allowed, _ = _alert_rule(act, tier)
    if principal.role == "unit_admin":
        return "unit_admin" in allowed and principal.unit_id == unit_id
    level = regulator_level(principal)
    return level in allowed and region_code.startswith(principal.region_prefix or "~")


def require_alert_act(principal: Principal, act: str, *, tier: str, unit_id: int, region_code: str,
                      alert_id: int) -> None:
    """403 unless the principal may `act` on the alert, naming who may."""
    if not may_on_alert(principal, act, tier=tier, unit_id=unit_id, region_code=region_code):
        _, who = _alert_rule(act, tier)
        raise Forbidden(f"to {act} {tier} alert {alert_id} you must be {who} of region {region_code}; you are "
                        f"'{principal.role}'" + (f" of {principal.region_prefix}" if principal.region_prefix else ""),
                        code="alert.forbidden", details={"act": act, "tier": tier, "alert_id": alert_id})


def require_subscription_scope(session: Session, principal: Principal, *, unit_id: int | None,
                               region_prefix: str | None) -> None:
    """A webhook for a unit needs `manage` on it (or a regulator supervising it); one for a region needs a
    regulator covering that region."""
    if (unit_id is None) == (region_prefix is None):
        raise InvalidInput("give either unit_id or region_prefix", field="unit_id")
    if unit_id is not None:
        unit = require_unit(session, principal, unit_id, act="read")
        if principal.role == "regulator":
            check_region_in_jurisdiction(principal, unit.region_code, field="unit_id")
        else:
            require_unit(session, principal, unit_id, act="manage")
        return
    check_region_in_jurisdiction(principal, region_prefix, field="region_prefix")
# ==== end of alerts ================================================================================================


# ---- declarations -------------------------------------------------------------------------------------

DECLARANT_ROLES = ("operator", "unit_admin")


def require_declarant(session: Session, principal: Principal, unit_id: int) -> Unit:
    """The unit, if the principal is one of its own operators or admins: only the unit drafts, annotates and
    submits its declarations (HJ 1259 §7.1); a regulator supervises them, and a platform admin does not act as it."""
    unit = require_unit(session, principal, unit_id, act="read")
    if principal.unit_id != unit.id or principal.role not in DECLARANT_ROLES:
        raise Forbidden(f"only an operator or admin of {unit.name} drafts and submits its declarations",
                        code="declaration.not_declarant", details={"unit_id": unit_id})
    return unit
