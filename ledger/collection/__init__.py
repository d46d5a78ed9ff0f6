"""Small producers and collectors: consents, pickup orders, collection-centre lots.

models.py      the tables (imported by ledger.models and by ledger.auth's consent check)
licences.py    what a collector's collection licence covers; marks on collected records
consents.py    a producer lets a collector file for it, and revokes that
orders.py      pickup orders: raise → accept → schedule → weigh at the door → the producer confirms → manifest
order_views.py their schemas, public view, and who sees which order
lots.py        a collector combines collected holdings of one code into a lot; trace hooks
"""

from ledger.collection import licences, lots, orders  # noqa: E402,F401  (register marks, visibility, trace hooks)
