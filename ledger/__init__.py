"""The domain core. Importing it registers the journal subscribers that live inside the ledger (period balances)."""

from ledger import rollups  # noqa: F401,E402
