"""The period-balance table: flows per unit, month, facility, waste code, counterparty, method and origin.

Only flows are kept; a stock (opening, closing) is the sum of the flows of every earlier month, so a correction
of an earlier month moves every later stock by itself. Each row belongs to one unit (`unit_id` leads the key), so
the table can be distributed by unit.

Key columns that have no value for a flow hold a neutral value instead of NULL (a primary key cannot be NULL and
`ON CONFLICT` needs a plain key): `facility_id` 0 = not at a facility (a shipment, a receipt without one),
`counterparty_id` 0 = no other party, `method` '' = no method.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, SmallInteger, String, text
from sqlmodel import Field, SQLModel

# What a flow column holds, in integer grams, for the month of the record (Asia/Shanghai). "prior" columns are
# the part of the flow before them whose batch was generated (for a received holding: received) in an earlier
# calendar year than the month: the 往年贮存量 of the applications.
FLOWS: dict[str, str] = {
    "generated_g": "产生量 (net mass at weighing)",
    "stored_g": "入库量 (into a storage facility: the row's facility)",
    "retrieved_g": "出库量 (out of a storage facility: the row's facility)",
    "used_g": "自行利用量 (own waste)",
    "used_prior_g": "自行利用量中往年贮存量",
    "disposed_g": "自行处置量 (own waste)",
    "disposed_prior_g": "自行处置量中往年贮存量",
    "sent_util_g": "委外利用量 (own waste shipped at pickup, planned method counts as utilisation)",
    "sent_util_prior_g": "委外利用量中往年贮存量",
    "sent_disp_g": "委外处置量 (own waste shipped at pickup, planned method is disposal)",
    "sent_disp_prior_g": "委外处置量中往年贮存量",
    "returned_util_g": "退回量 of loads sent for utilisation (deducted from 委外利用量 in the month it returns)",
    "returned_util_prior_g": "of which generated in an earlier year",
    "returned_disp_g": "退回量 of loads sent for disposal",
    "returned_disp_prior_g": "of which generated in an earlier year",
    "received_g": "接收量 (receiver: accepted mass, the new holding)",
    "refused_g": "拒收量 (receiver: mass refused, going back)",
    "transit_diff_g": "运输差量 (receiver: shipped − received on accepted lines)",
    "proc_util_g": "利用量 of received waste (receiver's processing)",
    "proc_util_prior_g": "of which received in an earlier year",
    "proc_disp_g": "处置量 of received waste",
    "proc_disp_prior_g": "of which received in an earlier year",
    "fwd_util_g": "received waste shipped on for utilisation (collectors)",
    "fwd_disp_g": "received waste shipped on for disposal",
    "fwd_returned_util_g": "of those, refused and back",
    "fwd_returned_disp_g": "of those, refused and back",
}
FLOW_COLUMNS: tuple[str, ...] = tuple(FLOWS)
KEY_COLUMNS: tuple[str, ...] = ("unit_id", "month", "facility_id", "waste_code", "counterparty_id", "method",
                                "origin")
YEAR_KEY_COLUMNS: tuple[str, ...] = ("unit_id", "year", "waste_code", "counterparty_id", "origin")

# Waste kinds (the `kind` column), derived from the waste code.
HAZARDOUS, GENERAL_INDUSTRIAL, GENERAL_OTHER = 1, 2, 3
# Where a record came from (the `origin` column): the live ledger, a history import, a back-entered paper manifest.
LIVE, IMPORTED, BACK_ENTERED = 0, 1, 2
ORIGINS = {"import": IMPORTED, "back_entry": BACK_ENTERED}


def waste_kind(waste_code: str) -> int:
    """1 hazardous (NNN-NNN-CC), 2 general industrial (classes S01–S59), 3 other general (S60–S99)."""
    last = waste_code.rsplit("-", 1)[-1]
    if not last.startswith("S"):
        return HAZARDOUS
    return GENERAL_INDUSTRIAL if int(last[1:]) < 60 else GENERAL_OTHER


def _flow() -> Any:  # noqa: ANN401 - a pydantic FieldInfo
    """A flow column: integer grams, 0 until a record adds to it."""
    return Field(default=0, sa_type=BigInteger, nullable=False, sa_column_kwargs={"server_default": text("0")})


class Flows(SQLModel):
    """The flow columns (FLOWS), shared by the monthly and the yearly table."""

    generated_g: int = _flow()
    stored_g: int = _flow()
    retrieved_g: int = _flow()
    used_g: int = _flow()
    used_prior_g: int = _flow()
    disposed_g: int = _flow()
    disposed_prior_g: int = _flow()
    sent_util_g: int = _flow()
    sent_util_prior_g: int = _flow()
    sent_disp_g: int = _flow()
    sent_disp_prior_g: int = _flow()
    returned_util_g: int = _flow()
    returned_util_prior_g: int = _flow()
    returned_disp_g: int = _flow()
    returned_disp_prior_g: int = _flow()
    received_g: int = _flow()
    refused_g: int = _flow()
    transit_diff_g: int = _flow()
    proc_util_g: int = _flow()
    proc_util_prior_g: int = _flow()
    proc_disp_g: int = _flow()
    proc_disp_prior_g: int = _flow()
    fwd_util_g: int = _flow()
    fwd_disp_g: int = _flow()
    fwd_returned_util_g: int = _flow()
    fwd_returned_disp_g: int = _flow()


class PeriodBalance(Flows, table=True):
    """One unit's flows of one waste code in one month, per facility, counterparty, method and origin."""

    __tablename__ = "period_balance"
    __table_args__ = (
        PrimaryKeyConstraint(*KEY_COLUMNS, name="pk_period_balance"),
        # The other party's view (an originator's transit discrepancy, in-park receivers): rows that name one.
        Index("ix_period_balance_counterparty", "counterparty_id", "month",
              postgresql_where=text("counterparty_id <> 0"), sqlite_where=text("counterparty_id <> 0")),
    )
    unit_id: int = Field(sa_column=Column(Integer, nullable=False))
    month: int = Field(sa_column=Column(Integer, nullable=False), description="YYYYMM, Asia/Shanghai")
    facility_id: int = Field(sa_column=Column(Integer, nullable=False))
    waste_code: str = Field(sa_column=Column(String(12), nullable=False))
    counterparty_id: int = Field(sa_column=Column(Integer, nullable=False))
    method: str = Field(sa_column=Column(String(8), nullable=False))
    origin: int = Field(sa_column=Column(SmallInteger, nullable=False))
    kind: int = Field(sa_column=Column(SmallInteger, nullable=False))


class PeriodBalanceYear(Flows, table=True):
    """The same flows summed per unit, calendar year, waste code, counterparty and origin: a stock at the end of a
    year, or a year's flows of a unit that was in the scope all year, is a sum over a handful of these rows instead
    of every month's. Maintained with the monthly rows in the same upsert; rebuilt from them."""

    __tablename__ = "period_balance_year"
    __table_args__ = (PrimaryKeyConstraint(*YEAR_KEY_COLUMNS, name="pk_period_balance_year"),)
    unit_id: int = Field(sa_column=Column(Integer, nullable=False))
    year: int = Field(sa_column=Column(Integer, nullable=False))
    waste_code: str = Field(sa_column=Column(String(12), nullable=False))
    counterparty_id: int = Field(sa_column=Column(Integer, nullable=False))
    origin: int = Field(sa_column=Column(SmallInteger, nullable=False))
    kind: int = Field(sa_column=Column(SmallInteger, nullable=False))


# The raw flows of a unit over a period (partial months of a park membership, every drill-down) are read by the
# records' time; corrections by the time of the record they correct; receipts by time. Three partial or
# narrow indexes on the journal serve that.
def _journal_indexes() -> None:
    from ledger.batches import Batch
    from ledger.journal import JournalRecord

    t = JournalRecord.__table__
    if "ix_journal_record_unit_time" not in {i.name for i in t.indexes}:
        Index("ix_journal_record_unit_time", t.c.unit_id, t.c.occurred_at)
        Index("ix_journal_record_corrections", t.c.unit_id, postgresql_where=text("kind = 'corrected'"),
              sqlite_where=text("kind = 'corrected'"))
        # What a unit holds now (the holdings cross-check of the indicators): only holdings with mass left.
        b = Batch.__table__
        Index("ix_batch_held", b.c.holder_unit_id, postgresql_where=text("remaining_g <> 0"),
              sqlite_where=text("remaining_g <> 0"),
              postgresql_include=["remaining_g", "parent_id", "hazardous", "waste_code"])
        # Receipts by time: an originator's transit discrepancy in a month when its park membership changed.
        Index("ix_journal_record_receipts", t.c.occurred_at, postgresql_where=text("kind = 'received'"),
              sqlite_where=text("kind = 'received'"))


_journal_indexes()
