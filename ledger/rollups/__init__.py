"""Period balances: flows per unit, month, facility and waste code, maintained in the writer's transaction from
the journal (`posting`), rebuilt from it set-based (`rebuild`), and read by the reports (`query`).

Importing this package subscribes the poster to the journal; `ledger/__init__.py` imports it at start.
"""

from ledger.rollups import posting  # noqa: F401  (subscribes to the journal)
