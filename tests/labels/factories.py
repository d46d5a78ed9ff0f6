"""Factories for the label tests: plain keyword-default functions returning the renderers' input data."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from PIL import Image

from labels.manifest_pdf import HaulerParty, ManifestDoc, ManifestLine, ManifestSignature, Party
from labels.qr import scan_url
from labels.render import LabelData

PUBLIC_URL = "https://gufei.example.gov.cn/"
CREDIT = "91370100MA3C5X1234"


def digital_id(hazardous: bool = True, serial: int = 1) -> str:
    code = "90024908" if hazardous else "251001S03"
    return f"{CREDIT}{code}20250301{serial:03d}"


def make_label(hazardous: bool = True, serial: int = 1, **kw) -> LabelData:  # noqa: ANN003
    did = kw.pop("digital_id", None) or digital_id(hazardous, serial)
    data = dict(
        digital_id=did,
        qr_payload=scan_url(PUBLIC_URL, did),
        batch_code=f"HWCS20250301{serial:03d}",
        waste_name="废机油" if hazardous else "锅炉炉渣",
        category="HW08" if hazardous else "S03",
        category_name="废矿物油与含矿物油废物" if hazardous else "炉渣",
        waste_code="900-249-08" if hazardous else "251-001-S03",
        form="液态" if hazardous else "固态",
        hazard=("T", "I") if hazardous else (),
        components="矿物油、润滑油添加剂、金属碎屑",
        generated_on=dt.date(2025, 3, 1),
        unit_name="济南某某精密机械制造有限公司",
        contact="张伟",
        phone="0531-88886666",
        net_kg=Decimal("182.500"),
        container_type="钢桶",
        container_volume_l=30.0,
        hazardous=hazardous,
        precautions="远离火源，防止泄漏" if hazardous else None,
    )
    data.update(kw)
    return LabelData(**data)


def make_line(i: int = 0, **kw) -> ManifestLine:  # noqa: ANN003
    data = dict(
        waste_code="900-249-08",
        waste_name=f"废机油{i}",
        category="HW08",
        form="液态",
        hazard=("T", "I"),
        package="钢桶 200L × 4",
        shipped_kg=Decimal("728.5"),
        method_code="R9",
        method_name="废油再提炼或再利用",
        digital_id=digital_id(True, i + 1),
    )
    data.update(kw)
    return ManifestLine(**data)


def make_manifest(n_lines: int = 3, **kw) -> ManifestDoc:  # noqa: ANN003
    number = kw.pop("number", "20253701000123")
    data = dict(
        number=number,
        status="运输中",
        qr_payload=f"https://gufei.example.gov.cn/m/{number}",
        originator=Party(
            "济南某某精密机械制造有限公司",
            CREDIT,
            "山东省济南市历城区工业北路 88 号",
            "张伟",
            "0531-88886666",
        ),
        hauler=HaulerParty(
            "山东某某危险货物运输有限公司",
            "91370100MA3D6Y5678",
            "济南市天桥区",
            "李强",
            "13800000000",
            permit_no="鲁交运管许可济字370100001234号",
            vehicle_plate="鲁A·12345",
            driver="王五",
        ),
        receiver=Party(
            "淄博某某环保科技有限公司", "91370300MA3E7Z9012", "淄博市临淄区", "赵六", "0533-7777777"
        ),
        lines=tuple(make_line(i) for i in range(n_lines)),
        planned_date=dt.date(2025, 3, 5),
        signatures=(
            ManifestSignature("移出人确认", "张伟", dt.datetime(2025, 3, 5, 1, 30, tzinfo=dt.UTC)),
            ManifestSignature(
                "承运人提货", "王五", dt.datetime(2025, 3, 5, 2, 10, tzinfo=dt.UTC), (36.6512, 117.12)
            ),
        ),
        remarks="车辆配备吸附棉及灭火器。",
    )
    data.update(kw)
    return ManifestDoc(**data)


def open_png(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def squash(text: str) -> str:
    """Text extracted by pypdf, without whitespace and NULs: pypdf reads the custom CMap that fpdf2 writes
    for a CID-keyed CFF font (the full-font fallback) one byte at a time."""
    return "".join(text.replace("\x00", "").split())
