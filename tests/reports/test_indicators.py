"""Indicators of the four-year world against figures computed by hand from the scenario's masses (to the gram),
the national identity, the holdings cross-check, every figure's drill-down, and who may read what."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.reports.scenario import World

D = Decimal
KG = 1000


def get(client, w: World, path: str, who: str = "admin", **params):
    r = client.get(f"/api/v1{path}", params=params, headers=w.tokens[who])
    assert r.status_code == 200, r.text
    return r.json()


def ind(client, w: World, scope: str, sid, year: int, who: str = "admin") -> dict:
    return get(client, w, "/reports/indicators", who, scope=scope, id=sid, year=year)


def grams(block: dict) -> dict[str, int]:
    return {k: v["g"] for k, v in block["figures"].items()}


def check(block: dict, expected_kg: dict[str, int]) -> None:
    got = grams(block)
    for name, kg in expected_kg.items():
        assert got[name] == kg * KG, f"{name}: got {got[name]} g, expected {kg} kg"


# -- hand-computed figures (kg), from the events listed in tests/reports/scenario.py ----------------------------

ZERO = dict.fromkeys(("generated", "utilised", "utilised_prior", "disposed", "disposed_prior", "stock_end",
                      "stock_open", "received", "processed_utilised", "transit_shipped", "transit_received"), 0)


def test_unit_figures_by_hand(client, world):
    w = world
    a = {y: ind(client, w, "unit", w.u["A"], y)["kinds"]["hazardous"] for y in (2021, 2022, 2023, 2024)}
    # 2021: a1 1000 generated, 800 used in-house; 200 left at 31 Dec.
    check(a[2021], {**ZERO, "generated": 1000, "utilised": 800, "utilised_in_house": 800, "stock_end": 200})
    assert a[2021]["utilisation_rate"]["percent"] == "80.00"  # 800 / (1000 + 0)
    # 2022: a1's last 200 used (generated 2021: 往年), a2 500 generated and stored.
    check(a[2022], {**ZERO, "generated": 500, "utilised": 200, "utilised_prior": 200, "stock_open": 200,
                    "stock_end": 500})
    assert a[2022]["utilisation_rate"]["percent"] == "28.57"  # 200 / (500 + 200)
    assert a[2022]["current_stock"]["g"] == 500 * KG  # 500 − (200 − 200)
    # 2023: a2 500 shipped to RIN (往年); a3 600 shipped, refused whole, back (net 0), then used in-house 600.
    check(a[2023], {**ZERO, "generated": 600, "utilised": 1100, "utilised_prior": 500, "utilised_in_house": 600,
                    "sent_for_utilisation": 500, "stock_open": 500, "transit_shipped": 2})
    assert a[2023]["utilisation_rate"]["percent"] == "100.00"  # 1100 / (600 + 500)
    # 2024: a4 weighed 400, corrected to 410 (counts in February, its month); 400 used; 10 left.
    check(a[2024], {**ZERO, "generated": 410, "utilised": 400, "stock_end": 10})
    assert a[2024]["utilisation_rate"]["percent"] == "97.56"  # 400 / 410

    b = {y: ind(client, w, "unit", w.u["B"], y)["kinds"]["general"] for y in (2021, 2023, 2024)}
    # 2021: b1 30000 to ROUT C2 (received 29990), b2 10000 to ROUT D1.
    check(b[2021], {**ZERO, "generated": 40000, "utilised": 30000, "disposed": 10000, "sent_for_disposal": 10000,
                    "transit_shipped": 10})
    assert b[2021]["utilisation_rate"]["percent"] == "75.00"
    # 2023: b4 15000 shipped, 2990 refused and back: 12010 utilised; 14990 arrived: 10 kg transit difference.
    check(b[2023], {**ZERO, "generated": 15000, "utilised": 12010, "sent_for_utilisation": 12010,
                    "stock_end": 2990, "transit_shipped": 10})
    assert b[2023]["utilisation_rate"]["percent"] == "80.07"  # 12010 / 15000
    # 2024: the 2990 (generated 2023) shipped again: all 往年.
    check(b[2024], {**ZERO, "utilised": 2990, "utilised_prior": 2990, "stock_open": 2990})
    assert b[2024]["utilisation_rate"]["percent"] == "100.00"  # 2990 / (0 + 2990)

    c = {y: ind(client, w, "unit", w.u["C"], y)["kinds"]["general"] for y in (2023, 2024)}
    check(c[2023], {**ZERO, "generated": 15000, "utilised": 7000, "disposed": 4000, "stock_end": 4000})
    assert c[2023]["utilisation_rate"]["percent"] == "46.67"  # 7000 / 15000
    check(c[2024], {**ZERO, "generated": 2000, "disposed": 3000, "disposed_prior": 1000, "stock_open": 4000,
                    "stock_end": 3000})
    assert c[2024]["current_stock"]["g"] == 0  # 3000 − (4000 − 0 − 1000)
    assert c[2024]["utilisation_rate"]["percent"] == "0.00"

    rin23 = ind(client, w, "unit", w.u["RIN"], 2023)
    # received 498 (a2) + 4000 (scrap) + 300 (d2); the refused 600 never entered its stock.
    check(rin23["kinds"]["all"], {**ZERO, "received": 4798, "processed_utilised": 3798, "transit_received": 2})
    check(rin23["kinds"]["hazardous"], {"received": 798, "processed_utilised": 798})
    assert rin23["kinds"]["all"]["utilisation_rate"]["percent"] is None  # it generates nothing
    assert rin23["kinds"]["all"]["received_stock_end_kg"] == "1000.000"
    assert rin23["recycling"]["percent"] == "75.00"  # 3000 used of 4000 scrap collected
    assert rin23["recycling"]["numerator"]["g"] == 3000 * KG
    rin24 = ind(client, w, "unit", w.u["RIN"], 2024)
    check(rin24["kinds"]["general"], {"processed_utilised": 1000})
    assert rin24["recycling"] is None


def test_park_figures_by_hand(client, world):
    w = world
    p23 = ind(client, w, "park", w.park, 2023)
    # Hazardous: only A generates in the park; RIN's receipts from D are not the park's generation.
    check(p23["kinds"]["hazardous"], {"generated": 600, "utilised": 1100, "utilised_prior": 500, "stock_open": 500,
                                      "stock_end": 0, "utilised_in_park": 1100, "utilised_in_park_prior": 500,
                                      "received": 798, "transit_shipped": 2, "transit_received": 2})
    # General: B 15000 + C after joining on 15 June: c2 7000 + c3 3000 (c1 5000 of 1 June is not counted).
    check(p23["kinds"]["general"], {"generated": 25000, "utilised": 19010, "utilised_prior": 0, "disposed": 4000,
                                    "stock_open": 0, "stock_end": 6990, "utilised_in_park": 7000,
                                    "transit_shipped": 10})
    g23 = p23["kinds"]["general"]
    # C brought c1's 5000 into the park: 当年贮存量 = 6990 − (0 + 5000 − 0 − 0) = 1990.
    assert g23["current_stock"]["g"] == 1990 * KG and g23["current_stock"]["parts"]["transfers_in_g"] == 5000 * KG
    assert g23["utilisation_rate"]["percent"] == "76.04"  # 19010 / 25000
    assert g23["in_park_utilisation_rate"]["percent"] == "28.00"  # 7000 / 25000: B's loads left the park
    all23 = p23["kinds"]["all"]
    assert all23["in_park_utilisation_rate"]["percent"] == "31.03"  # (600 + 7000 + 500) / (25600 + 500)
    assert p23["economics"]["value_added_10k"] == "4000.00"  # 1100 + 2000 + 500 + 730 × 200/365
    assert p23["recycling"]["percent"] == "75.00"

    p24 = ind(client, w, "park", w.park, 2024)
    check(p24["kinds"]["general"], {"generated": 2000, "utilised": 2990, "utilised_prior": 2990, "disposed": 3000,
                                    "disposed_prior": 1000, "stock_open": 6990, "stock_end": 3000,
                                    "utilised_in_park": 0})
    check(p24["kinds"]["hazardous"], {"generated": 410, "utilised": 400, "stock_end": 10, "utilised_in_park": 400})
    assert p24["kinds"]["all"]["utilisation_rate"]["percent"] == "62.78"  # 3390 / (2410 + 2990)
    assert p24["kinds"]["all"]["in_park_utilisation_rate"]["percent"] == "16.60"  # 400 / 2410
    assert p24["economics"]["value_added_10k"] == "4500.00"
    assert p24["intensity"]["hebei"]["value"] == "0.000444"  # 2 t / 4500 万元
    assert p24["intensity"]["miit"]["value"] == "0.000536"  # 2.41 t / 4500 万元
    decline = p24["storage_disposal_decline"]
    assert decline["base_year"] == 2021 and decline["base"]["g"] == 10000 * KG  # b2's 10000 disposed in 2021
    assert decline["evaluated"]["g"] == 3000 * KG and decline["decline_percent"] == "70.00"
    assert p24["recycling"] is None


def test_region_figures_by_hand(client, world):
    w = world
    r = ind(client, w, "region", "37", 2023, who="reg")
    check(r["kinds"]["hazardous"], {"generated": 900, "utilised": 1400, "utilised_prior": 500, "received": 798})
    check(r["kinds"]["general"], {"generated": 34000, "utilised": 23010, "disposed": 4000, "received": 16000,
                                  "stock_end": 6990})
    check(r["kinds"]["all"], {"transit_shipped": 12, "transit_received": 12, "processed_utilised": 15798})


@pytest.mark.parametrize("scope,key,years", [("park", None, (2021, 2022, 2023, 2024)),
                                             ("unit", "A", (2022, 2023, 2024)), ("unit", "C", (2023, 2024)),
                                             ("region", "37", (2023,))])
def test_identity_holds_and_balances_match_holdings(client, world, scope, key, years):
    w = world
    sid = w.park if scope == "park" else (w.u[key] if scope == "unit" else key)
    for year in years:
        data = ind(client, w, scope, sid, year)
        for kind, block in data["kinds"].items():
            ident = block["identity"]
            assert ident["balanced"] and ident["imbalance_g"] == 0, (year, kind, ident)
        for kind, hc in data["holdings_check"].items():
            assert hc["difference_g"] == 0, (kind, hc)


def _figures(node, path=""):
    if isinstance(node, dict):
        if "records_url" in node and "g" in node:
            yield path, node
        for k, v in node.items():
            yield from _figures(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _figures(v, f"{path}[{i}]")


def test_every_figure_drills_down_to_records_that_sum_to_it(client, world):
    w = world
    seen = 0
    for scope, sid, year, size in (("park", w.park, 2023, 7), ("park", w.park, 2024, 500),
                                   ("unit", w.u["A"], 2023, 500), ("unit", w.u["RIN"], 2023, 500),
                                   ("region", "37", 2024, 500)):
        data = ind(client, w, scope, sid, year)
        urls = {}
        for path, fig in _figures(data):
            urls.setdefault(fig["records_url"], (path, fig["g"]))
        for url, (path, g) in urls.items():
            total, page = 0, 1
            while True:
                r = client.get(f"{url}&page={page}&size={size}", headers=w.tokens["admin"])
                assert r.status_code == 200, (path, r.text)
                body = r.json()
                total += sum(x["counted_g"] for x in body["records"])
                if page >= body["pages"]:
                    break
                page += 1
            assert total == g == body["total_g"], (path, url, total, g)
            seen += 1
    assert seen > 150
    # CSV: the same rows, the counted masses in kg.
    url = ind(client, w, "park", w.park, 2023)["kinds"]["general"]["figures"]["generated"]["records_url"]
    r = client.get(f"{url}&format=csv", headers=w.tokens["admin"])
    lines = r.text.lstrip("\ufeff").strip().splitlines()
    assert r.headers["x-total-kg"] == "25000.000" and len(lines) == 1 + 3  # b4, c2, c3
    assert sum(D(line.split(",")[12]) for line in lines[1:]) == D(25000)


def test_drill_down_names_the_records_of_a_mid_month_join(client, world):
    w = world
    url = ind(client, w, "park", w.park, 2023)["kinds"]["general"]["figures"]["disposed"]["records_url"]
    rows = client.get(url, headers=w.tokens["admin"]).json()["records"]
    assert [(r["unit_id"], r["record_kind"], r["counted_g"]) for r in rows] == [(w.u["C"], "disposed_in_house",
                                                                                  4000 * KG)]
    url = ind(client, w, "unit", w.u["A"], 2024)["kinds"]["hazardous"]["figures"]["generated"]["records_url"]
    rows = client.get(url, headers=w.tokens["admin"]).json()["records"]
    assert sorted(r["record_kind"] for r in rows) == ["corrected", "generated"]
    assert sum(r["counted_g"] for r in rows) == 410 * KG


def test_who_may_read_what(client, world):
    w = world
    assert client.get("/api/v1/reports/indicators", params={"scope": "park", "id": w.park, "year": 2023},
                      headers=w.tokens["park"]).status_code == 200
    assert client.get("/api/v1/reports/indicators", params={"scope": "unit", "id": w.u["A"], "year": 2023},
                      headers=w.tokens["park"]).status_code == 200  # a member unit
    assert client.get("/api/v1/reports/indicators", params={"scope": "unit", "id": w.u["D"], "year": 2023},
                      headers=w.tokens["park"]).status_code == 404  # not a member
    assert client.get("/api/v1/reports/indicators", params={"scope": "unit", "id": w.u["A"], "year": 2023},
                      headers=w.tokens["A"]).status_code == 200
    for who, scope, sid, status in (("A", "unit", w.u["B"], 404), ("A", "park", w.park, 403),
                                    ("A", "region", "37", 403), ("far", "region", "37", 403),
                                    ("far", "unit", w.u["A"], 404), ("far", "park", w.park, 404)):
        r = client.get("/api/v1/reports/indicators", params={"scope": scope, "id": sid, "year": 2023},
                       headers=w.tokens[who])
        assert r.status_code == status, (who, scope, r.text)
    r = client.get("/api/v1/reports/records", params={"scope": "unit", "id": w.u["A"], "year": 2023,
                                                      "figure": "nonsense"}, headers=w.tokens["admin"])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "figure"
    assert client.get("/api/v1/reports/indicators", params={"scope": "unit", "id": w.u["A"], "year": 2023}
                      ).status_code == 401


def test_charts_are_svg_with_the_figures(client, world):
    import xml.etree.ElementTree as ET

    w = world
    ns = {"s": "http://www.w3.org/2000/svg"}
    r = client.get("/api/v1/reports/charts/monthly.svg", params={"scope": "park", "id": w.park, "year": 2023},
                   headers=w.tokens["park"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.text)
    texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "月度产生、综合利用与贮存" in texts and "（吨）" in texts and "12月" in texts and "月末贮存量" in texts
    bars = {(b.get("class"), b.get("data-month")): b.get("data-value") for b in root.findall(".//s:rect[@class]", ns)}
    assert len(bars) == 24
    assert bars[("generated", "202309")] == "15.000" and bars[("utilised", "202309")] == "12.010"
    assert bars[("generated", "202306")] == "7.000"  # c2 only: c1 was weighed before C joined the park
    stock = {c.get("data-month"): c.get("data-value") for c in root.findall(".//s:circle[@class='stock']", ns)}
    assert stock["202312"] == "6.990" and stock["202301"] == "0.000"
    assert all(float(t.get("font-size")) >= 12 for t in root.iter("{http://www.w3.org/2000/svg}text"))
    r = client.get("/api/v1/reports/charts/rates.svg", params={"scope": "park", "id": w.park, "from": 2021,
                                                               "to": 2024}, headers=w.tokens["park"])
    root = ET.fromstring(r.text)
    points = {(c.get("class"), c.get("data-year")): c.get("data-value") for c in root.findall(".//s:circle", ns)}
    assert points[("rate", "2023")] == "77.05" and points[("in_park", "2023")] == "31.03"
    r = client.get("/api/v1/reports/charts/rates.svg", params={"scope": "unit", "id": w.u["B"], "from": 2021,
                                                               "to": 2024, "kind": "general"}, headers=w.tokens["B"])
    root = ET.fromstring(r.text)
    assert [c.get("data-value") for c in root.findall(".//s:circle[@class='rate']", ns)] == ["75.00", "100.00", "80.07", "100.00"]
    assert client.get("/api/v1/reports/charts/rates.svg", params={"scope": "unit", "id": w.u["B"], "from": 2024,
                                                                  "to": 2021}, headers=w.tokens["B"]).status_code == 422
