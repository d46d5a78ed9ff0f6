"""Principals, roles and jurisdictions: who may see and do what. The one place access is decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import exists, false, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, select

from ledger.accounts import UNIT_ROLES, USER_ROLES, AuditLog, User
from ledger.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from ledger.registry.models import Park, ParkMember, Unit
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


def in_park(session: Session, *, park_id: int, unit_id: int, on: date | None = None) -> bool:
    """True when the unit belongs to the park on `on` (default today)."""
    on = on or shanghai_today()
    return session.exec(
        select(ParkMember.id).where(
            ParkMember.park_id == park_id, ParkMember.unit_id == unit_id, ParkMember.since <= on,
            or_(ParkMember.until.is_(None), ParkMember.until >= on),
        )
    ).first() is not None


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


def require_unit(session: Session, principal: Principal, unit_id: int, *, act: str = "read") -> Unit:
    """The unit if the principal may `act` on it: 404 when it is outside their scope, 403 when the role forbids."""
    unit = session.get(Unit, unit_id)
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
    """Record one write in the audit log, inside the caller's transaction."""
    session.add(
        AuditLog(user_id=principal.user_id or None, token_id=principal.token_id, action=action, entity=entity,
                 entity_id=None if entity_id is None else str(entity_id), source_ip=principal.source_ip,
                 user_agent=(principal.user_agent or "")[:200] or None, detail=detail or {})
    )
