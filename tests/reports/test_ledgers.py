"""The ledgers in the standards' layout: HJ 1259 B.1–B.5 with the standard's Chinese columns, the general
industrial solid-waste ledger (basic information, monthly summary from the balances, per-batch records), CSV and
XLSX."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl

from ledger.reports.hj1259 import HAZARDOUS_TABLES

API = "/api/v1"
SPAN = {"from": "2021-01-01", "to": "2024-12-31"}


def test_hazardous_tables_use_the_standards_columns(client, world):
    w = world
    r = client.get(f"{API}/units/{w.u['A']}/ledger", params={**SPAN, "layout": "standard"}, headers=w.tokens["A"])
    assert r.status_code == 200, r.text
    t = r.json()["tables"]
    assert t["B.1"]["columns"][:4] == ["序号", "产生批次编码", "产生时间", "危险废物名称（行业俗称/单位内部名称）"]
    assert "产生部门经办人" in t["B.1"]["columns"] and t["B.1"]["columns"][-1] == "去向"
    assert t["B.5"]["columns"][12:16] == ["利用/处置方式", "接收单位类型", "危险废物经营许可证持有单位（单位名称）",
                                         "危险废物经营许可证持有单位（许可证编码）"]
    b1 = {row[1]: dict(zip(t["B.1"]["columns"], row, strict=True)) for row in t["B.1"]["rows"]}
    assert len(b1) == 4  # a1 a2 a3 a4
    a4 = next(v for v in b1.values() if v["产生时间"].startswith("2024-02-02"))
    assert a4["产生量"] == "410.000" and a4["计量单位"] == "kg"  # the corrected weighing
    assert a4["容器/包装编码"] == w.batches["a4"].digital_id and a4["危险废物类别"] == "HW08"
    assert a4["危险废物名称（国家危险废物名录名称）"].startswith("其他生产、销售、使用过程中产生的废矿物油")
    b5 = [dict(zip(t["B.5"]["columns"], row, strict=True)) for row in t["B.5"]["rows"]]
    assert [x["委外利用/处置量"] for x in b5] == ["500.000", "600.000", "-600.000"]  # the refused load came back
    assert b5[0]["危险废物经营许可证持有单位（许可证编码）"] == "鲁危证T001"
    assert b5[0]["接收单位类型"] == "危险废物经营许可证持有单位"
    b4 = [dict(zip(t["B.4"]["columns"], row, strict=True)) for row in t["B.4"]["rows"]]
    assert [x["自行利用/处置量"] for x in b4] == ["800.000", "200.000", "600.000", "400.000"]
    assert b4[0]["自行利用/处置设施编码"] == "LY-01" and b4[0]["产生批次编码/出库批次编码"].startswith("HWCK")
    theirs = client.get(f"{API}/units/{w.u['RIN']}/ledger", params={**SPAN, "layout": "standard"},
                        headers=w.tokens["RIN"]).json()["tables"]
    refused = [dict(zip(theirs["IN"]["columns"], row, strict=True)) for row in theirs["IN"]["rows"]][-1]
    assert (refused["发出量"], refused["接受量"], refused["拒收量"], refused["移出单位"]) == (
        "600.000", "0.000", "600.000", "甲化工")


def test_general_ledger_from_the_balances(client, world):
    w = world
    t = client.get(f"{API}/units/{w.u['B']}/ledger", params={**SPAN, "layout": "standard"},
                   headers=w.tokens["B"]).json()["tables"]
    info = {row[0]: row[1] for row in t["GF.1"]["rows"]}
    assert info["单位名称"] == "乙冶炼" and any(r[0] == "贮存设施" and "ZC-02" in r[1] for r in t["GF.1"]["rows"])
    summary = [dict(zip(t["GF.2"]["columns"], row, strict=True)) for row in t["GF.2"]["rows"]]
    assert sum(Decimal(x["产生量"]) for x in summary) == 30000 + 10000 + 20000 + 15000
    sep = next(x for x in summary if x["月份"] == "2023-09")
    # b4: 15000 generated, 15000 shipped for C2 and 2990 back: 12010 sent net; 2990 in stock at month end.
    assert (sep["产生量"], sep["委托利用量"], sep["月末贮存量"]) == ("15000.000", "12010.000", "2990.000")
    feb = next(x for x in summary if x["月份"] == "2024-02")
    assert (feb["月初贮存量"], feb["委托利用量"], feb["月末贮存量"]) == ("2990.000", "2990.000", "0.000")
    stages = [row[1] for row in t["GF.3"]["rows"]]
    assert stages[:4] == ["产生", "入库", "出库", "委托利用/处置"] and "退回" in stages
    assert not t["B.1"]["rows"]  # B's waste is general: nothing in the hazardous tables
    r = client.get(f"{API}/units/{w.u['B']}/ledger", params={**SPAN, "layout": "standard", "format": "csv",
                                                             "table": "GF.2"}, headers=w.tokens["B"])
    assert r.text.startswith("\ufeff月份,固体废物名称,固体废物代码") and "2023-09" in r.text
    r = client.get(f"{API}/units/{w.u['B']}/ledger", params={**SPAN, "layout": "standard", "format": "csv"},
                   headers=w.tokens["B"])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "table"


def test_ledger_xlsx(client, world):
    w = world
    r = client.get(f"{API}/units/{w.u['A']}/ledger", params={**SPAN, "format": "xlsx"}, headers=w.tokens["A"])
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames[:5] == ["B.1 产生", "B.2 入库", "B.3 出库", "B.4 自行利用处置", "B.5 委外利用处置"]
    ws = wb["B.1 产生"]
    assert "A1:" in str(next(iter(ws.merged_cells.ranges)))
    assert tuple(c.value for c in ws[2]) == HAZARDOUS_TABLES["B.1"][1]
    assert [row[7] for row in ws.iter_rows(min_row=3, values_only=True)] == ["1000.000", "500.000", "600.000",
                                                                             "410.000"]
    # The generic layout the lead's tests rely on is unchanged.
    r = client.get(f"{API}/units/{w.u['A']}/ledger", params=SPAN, headers=w.tokens["A"])
    assert set(r.json()["tables"]) == {"B.1", "B.2", "B.3", "B.4", "B.5", "IN"}
