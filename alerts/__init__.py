"""Risk alerts (the alert issue builds this package).

Rules will be pure functions from facts to findings; the engine subscribes at start-up to the ledger's record
events (`ledger.journal.subscribe`) and reads the facts the ledger already stores for it: manifest plan flags,
receipt deadlines (5 Chinese working days), over-capacity storage records, weighing flags (`not_in_plan`,
`late_entry`). Nothing here yet: `ledger/` does not import this package.
"""
