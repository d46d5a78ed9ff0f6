"""A chart's title is a scope's name, typed by a person: whatever it holds, the SVG stays well-formed XML (a
browser draws nothing of an SVG that is not) and the name reads as text."""

from __future__ import annotations

import xml.dom.minidom

from ledger.reports import charts

NAME = '园区 <script>alert("x")</script> & "引号"'


def test_names_with_quotes_and_markup_keep_the_svg_well_formed():
    monthly = charts.render_monthly(NAME, 2024, "all", charts.Monthly(
        [202400 + m for m in range(1, 13)], [1000] * 12, [500] * 12, [0] * 12, [200] * 12))
    rates = charts.render_rates(NAME, "all", {"years": [2023, 2024], "rate": [80, 90], "in_park": [None, 50]},
                                park=True)
    for svg in (monthly, rates):
        doc = xml.dom.minidom.parseString(svg)
        root = doc.documentElement
        assert root.getAttribute("aria-label").startswith(NAME)
        assert "<script" not in svg
