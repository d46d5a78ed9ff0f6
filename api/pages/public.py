"""The page a unit's 固废码 opens (/u/{credit code}, what `GET /units/{id}/code.png` encodes): for anyone, without
a login — the unit's name, credit code and region, its colour in words, and how many alerts are open per tier.
Nothing an outsider should not see: no alert titles or evidence, no people, no figures of the ledger."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from alerts import code as unit_code
from api.deps import get_session
from api.pages.alert_views import open_counts
from api.pages.common import PageRoute, Viewer, render, viewer
from ledger.errors import NotFound
from ledger.registry.models import Unit
from ledger.types import utcnow

router = APIRouter(route_class=PageRoute)

# GB/T 2260: the first two digits of a region code name the province-level division.
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区", "21": "辽宁省", "22": "吉林省",
    "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省",
    "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省",
    "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区",
    "82": "澳门特别行政区",
}
MEANINGS = {"green": "该单位目前没有需要督办或预警的风险告警。",
            "yellow": "该单位有未办结的中风险告警（或逾期的低风险告警），监管部门正在跟进整改。",
            "red": "该单位有未办结的高风险告警（或逾期的中风险告警），正在督办。"}


@router.get("/u/{credit_code}")
def public_unit(credit_code: str, request: Request, s: Session = Depends(get_session), v: Viewer = Depends(viewer)):
    unit = s.exec(select(Unit).where(Unit.credit_code == credit_code.strip().upper())).first()
    if unit is None:
        raise NotFound(f"统一社会信用代码 {credit_code} 没有登记的单位。请核对二维码或代码；伪造的固废码在本系统中查不到。",
                       code="unit.not_found")
    colour, _ = unit_code.unit_code(s, unit.id)
    name, meaning = unit_code.NAMES[colour]
    return render(request, "public_unit.html", {
        "unit": unit, "colour": colour, "colour_name": name, "meaning": meaning, "explain": MEANINGS[colour],
        "province": PROVINCES.get(unit.region_code[:2], ""), "counts": open_counts(s, unit.id), "now": utcnow()},
        v=v, cache="no-cache")
