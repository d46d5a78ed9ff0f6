"""The regulator's console (/console): a home, units in the jurisdiction, manifest search.

To add a section (the alert queue, an alert's page, park indicators) when its API lands: write one route module
here with a `router`, call `nav(...)` for its menu entry (and `unit_panel(...)` for a block on the unit page, such
as the 固废码), add its templates under templates/console/, and list the module in SECTIONS below.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.pages.console import home, manifests, units

SECTIONS = (home, units, manifests)

router = APIRouter()
for _section in SECTIONS:
    router.include_router(_section.router)
