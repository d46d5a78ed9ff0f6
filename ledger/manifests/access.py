"""Who sees a manifest and who signs which step: the parties, the scope check, the signing party."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from ledger import batches
from ledger.auth import Principal, can_see_unit, may, registry_unit
from ledger.batches import Batch
from ledger.db import known_row
from ledger.errors import Forbidden, NotFound
from ledger.manifests.models import Manifest, ManifestLine
from ledger.memo import memo
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
    m = known_row(session, "manifest", manifest_id)  # read with its commit group's (`read_for_group`)
    if m is None:
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


def manifest_parties_key(batch_id: int) -> tuple:
    """The key under which `one_read` keeps the parties of the manifests that carried a batch (or its parent or
    root)."""
    return ("manifest_parties", batch_id)


# built once (a hauler's or a receiver's every read of a batch asks it)
_PARTIES_OF_LINES = (select(Manifest.originator_id, Manifest.hauler_id, Manifest.receiver_id)
                     .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
                     .where(ManifestLine.batch_id.in_(bindparam("batch_ids", expanding=True))))


def manifest_parties(session: Session, b: Batch) -> frozenset[int]:
    """The units that were a party (originator, hauler, receiver) to a manifest carrying the batch, its parent or
    its root; within `one_read()` (a scan, a trace) asked once per batch, and primed by their prefetch."""
    ids = sorted({b.id, b.parent_id or b.id, b.root_id or b.id})
    return memo(manifest_parties_key(b.id), lambda: frozenset(
        u for row in session.execute(_PARTIES_OF_LINES, {"batch_ids": ids}) for u in row))


def _batch_on_manifest_visible(session: Session, principal: Principal, b: Batch) -> bool:
    return principal.unit_id is not None and principal.unit_id in manifest_parties(session, b)


batches.extra_visibility.append(_batch_on_manifest_visible)
