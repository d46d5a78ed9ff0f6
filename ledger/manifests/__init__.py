"""Electronic transfer manifests (电子转移联单): creation, checks, signatures, state machine, ledger effects.

States: draft → submitted → in_transit → (delivered) → received → completed; cancelled before pickup only;
refused → returning → returned. Every transition is `UPDATE … WHERE id = ? AND status = ?`, so of two racing
signatures one wins and the other gets 409; a manifest never skips a state.

One file per concern:

- `models`: the tables, states, limits and request bodies;
- `access`: who sees a manifest and who signs which step;
- `checks`: licences, permits, vehicle, cross-province approval, plan flags (each refusal names its rule);
- `state`: the compare-and-set move, signature events, locks and record marks every step shares;
- `create`: drafting;
- `steps`: submit, cancel, pickup (label scan), GPS points, arrival;
- `receipt`: receipt, processing checks, completion, the return of refused loads;
- `revisions`: changes after pickup, and cross-province approvals;
- `views`: lists, a batch's manifests for its trace, the next step a caller may take.
"""

from __future__ import annotations

from ledger.manifests.access import (
    can_see_manifest,
    get_manifest,
    parties,
)
from ledger.manifests.checks import (
    check_approval,
    check_hauler,
    check_receiver,
    plan_flags,
    received_this_year_g,
)
from ledger.manifests.create import (
    create,
    open_manifest_of,
)
from ledger.manifests.models import (
    APPROVAL_MAX_DAYS,
    IMPOSSIBLE_RECEIPT_RATIO,
    OPEN,
    OVER_RECEIPT_TOLERANCE_G,
    OVER_RECEIPT_TOLERANCE_PCT,
    RECEIPT_WORKING_DAYS,
    STATES,
    ApprovalCreate,
    CancelIn,
    LineIn,
    Manifest,
    ManifestCreate,
    ManifestEvent,
    ManifestLine,
    PickupIn,
    ReceiveIn,
    ReceiveLineIn,
    Revision,
    RevisionIn,
    TrackIn,
    TrackPoint,
    TransferApproval,
    Where,
)
from ledger.manifests.receipt import (
    complete,
    confirm_return,
    receive,
    start_return,
)
from ledger.manifests.revisions import (
    REVISABLE,
    create_approval,
    decide_revision,
    propose_revision,
)
from ledger.manifests.state import (
    LINES_OF,
    EventRow,
    Label,
    events_of,
    know_manifest,
    lines_of,
    person_name,
    read_for_group,
    record_marks,
)
from ledger.manifests.steps import (
    cancel,
    deliver,
    pickup,
    submit,
    track,
)
from ledger.manifests.views import (
    EVENTS_OF,
    list_manifests,
    manifests_for_batch,
    next_actions_for,
)

__all__ = [
    "APPROVAL_MAX_DAYS",
    "ApprovalCreate",
    "CancelIn",
    "IMPOSSIBLE_RECEIPT_RATIO",
    "LineIn",
    "Manifest",
    "ManifestCreate",
    "ManifestEvent",
    "ManifestLine",
    "OPEN",
    "OVER_RECEIPT_TOLERANCE_G",
    "OVER_RECEIPT_TOLERANCE_PCT",
    "PickupIn",
    "RECEIPT_WORKING_DAYS",
    "ReceiveIn",
    "ReceiveLineIn",
    "Revision",
    "RevisionIn",
    "STATES",
    "TrackIn",
    "TrackPoint",
    "TransferApproval",
    "Where",
    "can_see_manifest",
    "get_manifest",
    "parties",
    "check_approval",
    "check_hauler",
    "check_receiver",
    "plan_flags",
    "received_this_year_g",
    "LINES_OF",
    "lines_of",
    "events_of",
    "EventRow",
    "Label",
    "know_manifest",
    "read_for_group",
    "person_name",
    "record_marks",
    "create",
    "open_manifest_of",
    "cancel",
    "deliver",
    "pickup",
    "submit",
    "track",
    "complete",
    "confirm_return",
    "receive",
    "start_return",
    "create_approval",
    "decide_revision",
    "propose_revision",
    "REVISABLE",
    "EVENTS_OF",
    "list_manifests",
    "manifests_for_batch",
    "next_actions_for",
]
