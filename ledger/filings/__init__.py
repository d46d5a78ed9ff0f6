"""Filings that need a firm's action, visible to it: the unit inbox and its events, zero reports.

models.py        inbox items and zero reports
inbox.py         `notify()`, the one writer of inbox items and of the events handed to webhook sinks; listing
zero_reports.py  零报告: a licensed operator's report of a day without movements, one per unit and day
"""

from ledger.filings import returns, zero_reports  # noqa: E402,F401  (register computed items and checks)
