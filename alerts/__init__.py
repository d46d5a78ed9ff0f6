"""Risk alerts (Shandong's 无废山东 model, seed 004 §五.9; Ningbo's 固废码, §五.2).

- `rules/`     pure functions from a frozen fact to findings, one module per class (产生, 库存, 转移, 经营, 申报)
- `facts/`     set-based SQL gatherers that turn ledger rows into those facts
- `engine`     opens, updates and closes alerts; event-time rules at the writer's commit; the scheduled scan
- `routing`    the route of each tier, working-day deadlines, overdue → escalate once, the people's actions
- `notify`     transactional outbox, webhook delivery (httpx, HMAC-SHA256, back-off, disable/re-enable)
- `scheduler`  APScheduler with its jobs in the database; one leader per PostgreSQL database (advisory lock)
- `code`       the 固废码 colour of a unit; `queue` the regulator's queue and stats; `webhooks` subscriptions
- `settings`   every threshold, deadline and knob, named, with its legal basis

`ledger/` never imports this package: `engine.install()` subscribes to the journal at start-up.
"""
