"""Every alert threshold, deadline and delivery knob in one place, each named and with its legal basis.

A figure marked "(to verify)" came from secondary sources or platform practice rather than a legal text: it lives
here, once, so it can be corrected in one place. Masses are grams, durations are days/hours/working days.
"""

from __future__ import annotations

from ledger.registry.tiers import KEY_THRESHOLD_G, SIMPLIFIED_THRESHOLD_G

# ---- generation (产生) -----------------------------------------------------------------------------------------

PLAN_OVERRUN_RATIO = 1.20
"""Year-to-date generation of a code above 120% of the year's planned quantity (HJ 1259 §5.2.3: a plan that no
longer fits must be changed; the 120% margin is Shandong platform practice, to verify)."""

MONTH_SWING_RATIO = 0.50
"""A month's generation more than ±50% off the mean of the three months before it (HJ 1259 §6.1.1 真实、准确、完整;
the ±50% band is platform practice, to verify)."""
MONTH_SWING_MIN_MEAN_G = 100_000
"""Below a 100 kg monthly mean the swing rule stays quiet: small producers swing by nature."""

TIER_LINES_G = (SIMPLIFIED_THRESHOLD_G, KEY_THRESHOLD_G)
"""10 t and 100 t a year at one site (HJ 1259 §4.2.1); crossing one changes the management tier."""

SILENCE_DAYS = 30
"""No ledger record for 30 days at a unit that usually generates weekly (HJ 1259 §6.2: one record per container,
即产生即记录; to verify)."""
SILENCE_LOOKBACK_WEEKS = 12
SILENCE_MIN_ACTIVE_WEEKS = 8
""""Usually generates weekly": records in at least 8 of the 12 weeks before the silence began."""

LATE_ENTRY_HOURS = 24
"""A weighing entered more than 24 h after it happened (the ledger flags it `late_entry`; Shandong's 五即:
即产生、即称重、即打码、即入库)."""

# ---- inventory (库存) ------------------------------------------------------------------------------------------

STORAGE_WARN_DAYS = 330
"""A stored batch 330 days old: a month before the one-year limit (固废法 Art. 81)."""
STORAGE_MAX_DAYS = 365
"""Hazardous waste stored more than one year (固废法 第八十一条: 贮存危险废物不得超过一年)."""

FACILITY_FILL_WARN = 0.90
"""Facility stock at or above 90% of its registered capacity (GB 18597-2023 贮存能力; margin is practice)."""
FACILITY_FILL_MAX = 1.00
"""Stock above the registered capacity."""

STORAGE_POINT_MAX_G = 3_000_000
"""A 贮存点 holds at most 3 t in all (GB 18597-2023 §3 贮存点 定义及 §6; to verify)."""

# ---- transfer (转移) -------------------------------------------------------------------------------------------

TRANSIT_LATE_HOURS = 24
"""In transit more than 24 h past the planned date (转移管理办法 第十一条(三)(四): 运抵、记录运输轨迹)."""
GPS_SILENCE_HOURS = 2
"""No GPS point for more than 2 h of that time makes it high (第十一条(三) 记录运输轨迹)."""

TRANSIT_DIFF_MID_RATIO = 0.05
TRANSIT_DIFF_MID_G = 50_000
"""Shipped vs received differs by more than 5% or more than 50 kg (转移管理办法 第十八条: 数量不符的, 告知并报告)."""
TRANSIT_DIFF_HIGH_RATIO = 0.10
"""More than 10%: high."""

# ---- operation (经营: receivers) ------------------------------------------------------------------------------

LICENCE_EXPIRY_WARN_DAYS = 30
"""An operating licence expired or expiring within 30 days (危险废物经营许可证管理办法 第十二条: 期满前申请换证;
the 30-day warning is practice, to verify)."""
CAPACITY_WARN = 0.90
"""Annual licensed capacity used at 90% (accepted this year; 经营许可证 核准经营规模)."""
CAPACITY_MAX = 1.00
RECEIVER_HOLD_DAYS = 365
"""A receiver holding received hazardous waste more than a year (固废法 第八十一条)."""

# ---- declaration (申报) -------------------------------------------------------------------------------------------

PLAN_DUE = (3, 31)
"""The yearly management plan by 31 March (HJ 1259 §5.2.2)."""
DECLARATION_DUE_DAY = 15
"""Monthly (重点) by the 15th of the next month, quarterly (简化) by the 15th of the quarter's first month
(HJ 1259 §7.2.1–7.2.2); annual for all by 31 March (§7.2.3). A due date on a holiday moves to the next working
day (民法典 第二百零三条)."""
OVERDUE_LOW_DAYS = 1
"""Overdue filings: low one day after the due date,"""
OVERDUE_MID_WORKING_DAYS = 5
"""mid after 5 working days,"""
OVERDUE_HIGH_DAYS = 30
"""high after 30 days."""
DECLARATION_LOOKBACK_DAYS = 400
"""Periods whose due date lies in the last 400 days are checked (older ones belong to last year's review)."""

# ---- routes and deadlines (Shandong, seed 004 §五.9) --------------------------------------------------------------

TIERS = ("low", "mid", "high")
TIER_NAMES = {"low": "低风险", "mid": "中风险", "high": "高风险"}
RECTIFY_WORKING_DAYS = 5
"""The unit (low, mid) or the city (high) answers within 5 working days of the push (seed 004 §五.9)."""
PUSH_WORKING_DAYS = {"mid": 2, "high": 1}
"""The county/city pushes a mid alert within 2 working days, the province a high one within 1 (to verify)."""
REVIEW_WORKING_DAYS = 5
"""The regulator accepts or rejects a rectification within 5 working days (to verify)."""

# ---- notifications ---------------------------------------------------------------------------------------------

WEBHOOK_PAYLOAD_VERSION = 1
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_BACKOFF_BASE_S = 30.0
"""Retry after 30 s, 60 s, 120 s … (doubling) up to WEBHOOK_BACKOFF_MAX_S."""
WEBHOOK_BACKOFF_MAX_S = 3600.0
WEBHOOK_MAX_FAILURES = 10
"""A subscription is disabled after 10 consecutive failed attempts; re-enabling resumes its pending deliveries."""
WEBHOOK_LEASE_S = 120.0
"""A claimed delivery is hidden from other dispatchers this long while it is being sent."""
WEBHOOK_BATCH = 100

# ---- scheduler -------------------------------------------------------------------------------------------------

SCAN_INTERVAL_S = 3600
"""The scheduled scan runs hourly by default (LEDGER_ALERTS_SCAN_SECONDS)."""
DELIVER_INTERVAL_S = 15
LEADER_POLL_S = 5.0
"""A standby process tries to become the scheduler leader this often."""
ADVISORY_LOCK_KEY = 0x616C657274  # "alert": the PostgreSQL advisory lock held by the scheduler leader


# ---- deployment knobs (environment, prefix LEDGER_ALERTS_) ----------------------------------------------------

from functools import lru_cache  # noqa: E402

from pydantic_settings import BaseSettings, SettingsConfigDict  # noqa: E402


class AlertsConfig(BaseSettings):
    """What an operator sets per deployment: the scheduler, its intervals, the enforcement endpoint."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_ALERTS_", env_file=".env", extra="ignore")

    scheduler: bool | None = None  # run the scan and the deliveries in-process; default: on unless LEDGER_ENV=test
    scan_seconds: int = SCAN_INTERVAL_S
    deliver_seconds: int = DELIVER_INTERVAL_S
    event_rules: bool = True  # evaluate event-time rules in each writing transaction
    strict: bool = False  # let an error in event-time evaluation fail the write (tests), instead of logging it
    enforcement_url: str | None = None  # where forwarded high alerts go (the provincial enforcement system)
    enforcement_secret: str | None = None  # its HMAC key


@lru_cache
def config() -> AlertsConfig:
    """The alert settings from the environment, read once (`config.cache_clear()` re-reads them)."""
    return AlertsConfig()
