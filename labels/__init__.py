"""Labels, QR codes and printable documents, rendered from plain data (no database, no imports of ours).

- :mod:`labels.render` — HJ 1276 waste labels as PNG / PDF / ZPL (:class:`LabelData`)
- :mod:`labels.facility` — facility QR cards (:class:`FacilityCardData`)
- :mod:`labels.manifest_pdf` — the A4 transfer manifest (:class:`ManifestDoc`)
- :mod:`labels.qr` — the QR payload (:func:`scan_url`) and QR images
- :mod:`labels.fonts` — finding a CJK font (:class:`FontNotFound` if there is none)
"""

from .facility import FacilityCardData, render_facility_card_pdf, render_facility_card_png
from .fonts import FontNotFound, cjk_font, warm_pdf_fonts
from .manifest_pdf import (
    HaulerParty,
    ManifestDoc,
    ManifestLine,
    ManifestSignature,
    Party,
    ReceiverParty,
    render_manifest_pdf,
)
from .qr import qr_image, scan_url
from .render import (
    HAZARD_NAMES,
    LabelData,
    label_size_mm,
    render_label_pdf,
    render_label_png,
    render_label_zpl,
)

__all__ = [
    "HAZARD_NAMES",
    "FacilityCardData",
    "FontNotFound",
    "HaulerParty",
    "LabelData",
    "ManifestDoc",
    "ManifestLine",
    "ManifestSignature",
    "Party",
    "ReceiverParty",
    "cjk_font",
    "label_size_mm",
    "qr_image",
    "render_facility_card_pdf",
    "render_facility_card_png",
    "render_label_pdf",
    "render_label_png",
    "render_label_zpl",
    "render_manifest_pdf",
    "scan_url",
    "warm_pdf_fonts",
]
