"""The regulator's console (/console): a home, the alert queue and each alert, units in the jurisdiction (with their
固废码), parks (indicators, charts, the 无废园区 application, drill-downs to records), manifest search.

To add a section (as `parks`: the park pages) when its API lands: write one route module
here with a `router`, call `nav(...)` for its menu entry (and `unit_panel(...)` for a block on the unit page, such
as the 固废码), add its templates under templates/console/, and list the module in SECTIONS below.
"""

from __future__ import annotations

from api.pages.console import alerts, home, manifests, parks, units

SECTIONS = (home, alerts, units, parks, manifests)
