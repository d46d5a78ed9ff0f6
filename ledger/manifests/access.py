"""Who sees a manifest and who signs which step: the parties, the scope check, the signing party."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, select

from ledger import batches
from ledger.auth import Principal, can_see_unit, may, registry_unit
from ledger.batches import Batch
from ledger.errors import Forbidden, NotFound
from ledger.manifests.models import Manifest, ManifestLine
from ledger.registry.models import Unit

# ---- access ------------------------------------------------------------------------------------------

def parties(m: Manifest) -> tuple[int, int, int]:
    return (m.originator_id, m.hauler_id, m.receiver_id)


def can_see_manifest(session: Session, principal: Principal, m: Manifest) -> bool:
    for uid in set(parties(m)):
        unit = registry_unit(session, uid)  # only read: the registry cache's snapshot will do
        if unit is not None and can_see_unit(session, principal, unit):
            return True
    return False


def get_manifest(session: Session, principal: Principal, manifest_id: int) -> Manifest:
    m = session.get(Manifest, manifest_id, populate_existing=True)
    if m is None or not can_see_manifest(session, principal, m):
        raise NotFound(f"manifest {manifest_id} does not exist or is outside your scope", code="manifest.not_found")
    return m


def sign_as(session: Session, principal: Principal, m: Manifest, unit_id: int, act: str, role_name: str) -> Unit:
    """The signing party (a read-only snapshot), when the principal may sign for it."""
    unit = registry_unit(session, unit_id)
    if principal.is_admin:
        return unit
    if principal.unit_id != unit_id or not may(principal, unit, act):
        raise Forbidden(f"only the {role_name} ({unit.name}) signs this step of manifest {m.number}",
                        code="manifest.wrong_party", details={"unit_id": unit_id})
    return unit


def _batch_on_manifest_visible(session: Session, principal: Principal, b: Batch) -> bool:
    if principal.unit_id is None:
        return False
    q = (select(Manifest.id).join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
         .where(ManifestLine.batch_id.in_([b.id, b.parent_id or b.id, b.root_id or b.id]))
         .where(or_(Manifest.hauler_id == principal.unit_id, Manifest.receiver_id == principal.unit_id,
                    Manifest.originator_id == principal.unit_id)))
    return session.exec(q).first() is not None


batches.extra_visibility.append(_batch_on_manifest_visible)
