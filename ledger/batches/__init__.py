"""Batches at the weighing point: generation, storage in/out, in-house use/disposal, corrections, rebuild.

A batch's balances (remaining, stored, in transit) are cached on the batch row and changed only by `apply()`,
the one function that says what each record kind does to them. Live writes and `rebuild` both go through it.

One file per concern:

- `models`: the batch table and the limits of a weighing;
- `balance`: `apply` (what each record kind does to a holding) and `record` (apply and append to the journal);
- `schemas`: request bodies and the public shapes of a batch and a record;
- `access`: who sees a batch, and finding one by id, digital ID or scan;
- `helpers`: scale-clock times, a unit's facilities, HJ 1259 record codes and links, a facility's stock;
- `weighing`: generation, one weighing, a bulk, a commit group's;
- `storage`: 入库 and 出库, and FIFO bulk lots;
- `processing`: in-house utilisation and disposal, corrections, the split of a received holding;
- `groups`: a commit group's moves of one kind (入库, 出库, 自行利用/处置) in one transaction;
- `trace`: a physical batch's records and holdings across units;
- `views`: the facility view, `rebuild`, annual totals.
"""

from __future__ import annotations

from ledger.batches.access import (
    can_see_batch,
    extra_visibility,
    find_by_digital_id,
    get_batch,
    holdings_for_scan,
    lock_holdings,
)
from ledger.batches.balance import (
    BatchState,
    Move,
    apply,
    record,
    signed_by,
    state_of,
)
from ledger.batches.groups import (
    move_many,
)
from ledger.batches.helpers import (
    checked_time,
    facility_stock_g,
    record_code,
    registry_facility,
)
from ledger.batches.models import (
    FORMS,
    FUTURE_TOLERANCE,
    LATE_ENTRY,
    PERIODS,
    Batch,
)
from ledger.batches.processing import (
    CORRECTABLE,
    check_process,
    correct,
    process_checks,
    process_in_house,
    split_holding,
)
from ledger.batches.schemas import (
    BatchCreate,
    BatchPublic,
    CorrectionIn,
    LotRetrieveIn,
    MoveIn,
    ProcessIn,
    RecordPublic,
    RetrieveIn,
    StoreIn,
    batch_public,
    record_public,
)
from ledger.batches.storage import (
    LotDraw,
    check_retrieve,
    check_store,
    retrieve,
    retrieve_lot,
    store,
)
from ledger.batches.trace import (
    holdings_of,
    records_for_root,
    records_of_holdings,
)
from ledger.batches.views import (
    Difference,
    annual_hazardous_g,
    facility_stock,
    rebuild,
    recent_movements,
)
from ledger.batches.weighing import (
    MAX_BULK,
    BulkCreate,
    generate,
    generate_many,
    prepare_weighing,
    write_weighings,
)

__all__ = [
    "Batch",
    "FORMS",
    "FUTURE_TOLERANCE",
    "LATE_ENTRY",
    "PERIODS",
    "apply",
    "BatchState",
    "Move",
    "record",
    "signed_by",
    "state_of",
    "batch_public",
    "BatchCreate",
    "BatchPublic",
    "CorrectionIn",
    "LotRetrieveIn",
    "MoveIn",
    "ProcessIn",
    "record_public",
    "RecordPublic",
    "RetrieveIn",
    "StoreIn",
    "can_see_batch",
    "extra_visibility",
    "find_by_digital_id",
    "get_batch",
    "holdings_for_scan",
    "lock_holdings",
    "checked_time",
    "facility_stock_g",
    "record_code",
    "registry_facility",
    "check_retrieve",
    "check_store",
    "LotDraw",
    "retrieve",
    "retrieve_lot",
    "store",
    "BulkCreate",
    "generate",
    "generate_many",
    "MAX_BULK",
    "prepare_weighing",
    "write_weighings",
    "check_process",
    "correct",
    "CORRECTABLE",
    "process_checks",
    "process_in_house",
    "split_holding",
    "move_many",
    "holdings_of",
    "records_for_root",
    "records_of_holdings",
    "annual_hazardous_g",
    "Difference",
    "facility_stock",
    "rebuild",
    "recent_movements",
]
