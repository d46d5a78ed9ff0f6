"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from ledger.accounts import ApiToken, AuditLog, IdempotencyRecord, User  # noqa: F401
from ledger.batches import Batch  # noqa: F401,E402
from ledger.cache import RegistryVersion  # noqa: F401,E402
from ledger.collection.models import (  # noqa: F401,E402
    Consent,
    LotSource,
    PickupOrder,
    PickupOrderEvent,
    PickupOrderLine,
)
from ledger.counters import Counter  # noqa: F401
from ledger.db import metadata  # noqa: F401
from ledger.filings.models import InboxItem, ZeroReport  # noqa: F401,E402
from ledger.history.models import SourceDocument  # noqa: F401,E402
from ledger.journal import JournalHead, JournalRecord  # noqa: F401,E402
from ledger.manifests import (  # noqa: F401,E402
    Manifest,
    ManifestEvent,
    ManifestLine,
    Revision,
    TrackPoint,
    TransferApproval,
)
from ledger.market.models import MarketOffer, MarketPhoto, MarketPost  # noqa: F401,E402
from ledger.registry.models import (  # noqa: F401
    Economics,
    Facility,
    Method,
    Park,
    ParkMember,
    ParkMemberRequest,
    Permit,
    Plan,
    PlanItem,
    Unit,
    Vehicle,
    WasteCode,
)
from ledger.reports.declarations import Declaration  # noqa: F401,E402
from ledger.rollups.models import PeriodBalance, PeriodBalanceYear  # noqa: F401,E402
from ledger.throttle import Throttle  # noqa: F401,E402
