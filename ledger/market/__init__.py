"""The trading hall (交易大厅): producers post waste they need taken; licensed receivers and collectors
see matching posts by distance and capacity left, answer with offers; a deal becomes plan entries and manifests.

models.py   posts, photos, offers
posts.py    posting, matching (licences checked, never claimed), distance and capacity, expiry, withdrawal
photos.py   sample photos: size limit and a decoded content-type check, served back through the API
offers.py   offers and deals: a new plan version, a draft manifest or a pickup order
"""
