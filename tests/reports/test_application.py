"""The application tables (JSON and XLSX) of the four-year world: hand-computed cells, thresholds, and the records
behind every sourced cell."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl

D = Decimal


def app_json(client, w, scope, sid, years="2021,2022,2023,2024"):
    r = client.get("/api/v1/reports/application", params={"scope": scope, "id": sid, "years": years},
                   headers=w.tokens["admin"])
    assert r.status_code == 200, r.text
    return r.json()


def rows(table: dict) -> dict[str, list]:
    """Label → values (the first row of each label: 其中 rows under 产生量 come before those under 利用量)."""
    out: dict[str, list] = {}
    for row in table["rows"]:
        if row["style"] != "section":
            out.setdefault(row["cells"][0]["value"], [c["value"] for c in row["cells"][1:]])
    return out


def test_park_application_tables_by_hand(client, world):
    w = world
    a = app_json(client, w, "park", w.park)
    assert a["base_year"] == 2021 and a["evaluated_years"] == [2022, 2023, 2024]
    t = {x["key"]: x for x in a["tables"]}
    miit = rows(t["miit"])
    # 园区内产生量 (万吨): 2021 A 1000 + B 40000 kg; 2023 A 600 + B 15000 + C 10000 (after joining).
    assert miit["园区内工业固废产生量（万吨）"] == ["0.0041000000", "0.0020500000", "0.0025600000", "0.0002410000"]
    assert miit["其中，S03 炉渣"] == ["0.0000000000", "0.0000000000", "0.0010000000", "0.0002000000"]
    # 园区内利用量: 2023 = A 600 in-house + 500 to RIN + C 7000 in-house (B's loads left the park).
    assert miit["园区内工业固废利用量（万吨）"][2] == "0.0008100000"
    assert miit["工业固体废物园区内综合利用率（%）"] == ["1.95", "0.97", "31.03", "16.60"]
    assert miit["园区总产值（万元）"] == ["17500.00", "17500.00", "20000.00", "22500.00"]
    assert miit["园区工业固废产生强度（吨/万元）"][3] == "0.000536"  # 2.41 t / 4500 万元
    hebei = {y: r for y, *r in ([row["cells"][0]["value"], *[c["value"] for c in row["cells"][1:]]]
                                for row in t["2.2"]["rows"])}
    assert hebei[2023] == ["0.0019010000", "0.0025000000", "0.0000000000", "76.04"]
    assert hebei[2024] == ["0.0002990000", "0.0002000000", "0.0002990000", "59.92"]  # 2990 / (2000 + 2990)
    decline = {row["cells"][0]["value"]: [c["value"] for c in row["cells"][1:]] for row in t["2.4"]["rows"]}
    assert decline[2024] == ["0.0010000000", "0.0003000000", "70.00"]
    recycling = {row["cells"][0]["value"]: [c["value"] for c in row["cells"][1:]] for row in t["2.3"]["rows"]}
    assert recycling[2023] == ["0.0003000000", "0.0004000000", "75.00"]
    met = {r["item"]: r["met"] for r in a["requirements"]}
    assert met["园区内工业固体废物综合利用率"] is False  # 16.60% in 2024, +14.65 points on 2021
    assert met["工业固体废物产生强度近三年累计降幅"] is True
    assert None in met.values()  # items the ledger cannot prove are left to the applicant


def test_enterprise_application_and_thresholds(client, world):
    w = world
    a = app_json(client, w, "unit", w.u["B"])
    t = {x["key"]: x for x in a["tables"]}
    miit = rows(t["miit"])
    assert miit["工业固废综合利用量（万吨）"] == ["0.0030000000", "0.0020000000", "0.0012010000", "0.0002990000"]
    assert miit["其中，C2 生产建筑材料"] == miit["工业固废综合利用量（万吨）"]
    assert miit["工业固废综合利用率（%）"] == ["75.00", "100.00", "80.07", "100.00"]
    assert miit["产值（万元）"] == ["10000.00"] * 4
    met = {r["item"]: r["met"] for r in a["requirements"]}
    assert met["工业固体废物综合利用率"] is True  # 100% in 2024
    # Three years only: the base year (2021) is added to the tables' computation.
    a3 = app_json(client, w, "unit", w.u["B"], years="2022,2023,2024")
    assert a3["base_year"] == 2021 and a3["years"] == [2022, 2023, 2024]
    r = client.get("/api/v1/reports/application", params={"scope": "region", "id": "37", "years": "2024"},
                   headers=w.tokens["admin"])
    assert r.status_code == 422
    r = client.get("/api/v1/reports/application", params={"scope": "unit", "id": w.u["B"], "years": "20x4"},
                   headers=w.tokens["admin"])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "years"


def test_every_sourced_cell_drills_down_to_its_records(client, world):
    w = world
    for scope, sid in (("park", w.park), ("unit", w.u["C"])):
        a = app_json(client, w, scope, sid)
        assert len(a["sources"]) > 20
        for t in a["tables"]:
            for row in t["rows"]:
                for c in row["cells"]:
                    if c["source"] and c["format"] == "wan_t" and not c["source"].get("part"):
                        assert D(c["value"]) == D(c["source"]["g"]) / D(10**10), (t["key"], row)
        for src in a["sources"]:
            r = client.get(src["records_url"] + "&size=1000", headers=w.tokens["admin"])
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["total_g"] == src["g"] == sum(x["counted_g"] for x in body["records"]), src


def test_xlsx_opens_and_holds_the_numbers(client, world):
    w = world
    r = client.get("/api/v1/reports/application.xlsx", params={"scope": "park", "id": w.park,
                                                               "years": "2021,2022,2023,2024"},
                   headers=w.tokens["park"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["附表1 园区基本情况表", "表2.1 产生强度", "表2.2 综合利用率", "表2.3 再生资源",
                             "表2.4 贮存处置", "基本要求", "数据来源"]
    ws = wb["附表1 园区基本情况表"]
    assert "A1:E1" in {str(m) for m in ws.merged_cells.ranges}  # the merged title row
    assert [c.value for c in ws[3]] == ["项目", "2021年", "2022年", "2023年", "2024年"]
    cells = {row[0]: row[1:] for row in ws.iter_rows(min_row=4, values_only=True) if row[0]}
    assert [D(str(v)) for v in cells["园区内工业固废产生量（万吨）"]] == [D("0.0041"), D("0.00205"), D("0.00256"),
                                                                     D("0.000241")]
    assert [D(str(v)) for v in cells["工业固体废物园区内综合利用率（%）"]] == [D("1.95"), D("0.97"), D("31.03"),
                                                                          D("16.60")]
    assert ws.cell(4 + list(cells).index("园区内工业固废产生量（万吨）"), 2).number_format == "0.000000"
    ws = wb["表2.4 贮存处置"]
    data = {row[0]: row[1:] for row in ws.iter_rows(min_row=4, max_row=6, values_only=True)}
    assert [D(str(v)) for v in data[2024]] == [D("0.001"), D("0.0003"), D("70")]
    ws = wb["基本要求"]
    verdicts = [row[3] for row in ws.iter_rows(min_row=4, values_only=True) if row[3]]
    assert verdicts[:2] == ["不满足", "满足"]
    ws = wb["数据来源"]
    links = [row[9] for row in ws.iter_rows(min_row=3, values_only=True) if row[9]]
    assert links and all(x.startswith("https://ledger.example.test/api/v1/reports/records?") for x in links)
