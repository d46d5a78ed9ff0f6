"""The legal identifiers: credit and region codes, waste codes, digital IDs (HJ 1276), batch codes (HJ 1259),
manifest numbers (危险废物转移管理办法 Art. 15), hazard characteristics and utilisation/disposal methods.

Pure functions: no database, no clock. Bad values raise `InvalidInput` naming the field and what is expected;
an exhausted serial range raises `Conflict`.

Utilisation/disposal methods live in `ledger/data/methods.csv` (code,name,kind,counts_as_utilisation), read by
`load_methods()`. HJ 1259 §5.4/§6 says the method codes follow HJ 1033 appendix F; the list shipped here is the
one used by existing systems and is TO VERIFY against HJ 1033 appendix F: correct the CSV, not the code.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources

from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from ledger.errors import Conflict, InvalidInput

# ---------------------------------------------------------------------------------------------------------------
# 统一社会信用代码 (GB 32100)
# ---------------------------------------------------------------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: digits and capitals without I, O, S, V, Z


@lru_cache(maxsize=16384)
def _valid_credit_code(value: str) -> str | None:
    """`normalize_credit_code` of a unit's code, or None when it is refused, remembered by value: a unit's labels
    all carry its code, and the check of GB 32100's check character is most of what building or parsing a label ID
    costs. (The caller refuses a None with its own field's name.)"""
    try:
        return normalize_credit_code(value)
    except InvalidInput:
        return None


def normalize_credit_code(value: str, *, field: str = "credit_code") -> str:
    """Return the 18-character 统一社会信用代码 in canonical form, or refuse it with what is expected."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string of 18 characters (统一社会信用代码)", field=field)
    code = uscc.compact(value)
    try:
        return uscc.validate(code)
    except InvalidLength:
        raise InvalidInput(
            f"{field} must be 18 characters (统一社会信用代码, GB 32100); got {len(code)}", field=field
        ) from None
    except InvalidChecksum:
        expected = uscc.calc_check_digit(code[:17])
        raise InvalidInput(
            f"{field} {code!r} has a wrong check character: the check character should be {expected}, "
            f"not {code[17]}",
            field=field,
            details={"expected_check_character": expected},
        ) from None
    except (InvalidFormat, ValidationError):
        raise InvalidInput(
            f"{field} {code!r} is not a 统一社会信用代码: expected 8 digits followed by 10 digits or capital "
            "letters other than I, O, S, V and Z (GB 32100)",
            field=field,
        ) from None


def credit_check_character(first17: str) -> str:
    """Compute the GB 32100 check character for the first 17 characters of a 统一社会信用代码."""
    body = uscc.compact(first17)
    if len(body) != 17 or any(c not in _USCC_ALPHABET for c in body):
        raise InvalidInput(
            "expected the first 17 characters of a 统一社会信用代码 (digits and capitals except I, O, S, V, Z)",
            field="credit_code",
        )
    return uscc.calc_check_digit(body)


# ---------------------------------------------------------------------------------------------------------------
# 行政区划代码
# ---------------------------------------------------------------------------------------------------------------

PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]
    + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82"]
)
"""Province-level prefixes of GB/T 2260 行政区划代码 (incl. 71 台湾, 81 香港, 82 澳门)."""


def _check_province(code: str, field: str) -> None:
    if code[:2] not in PROVINCE_CODES:
        raise InvalidInput(
            f"{field} {code!r} does not start with a province-level code "
            "(11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71, 81, 82)",
            field=field,
        )


def normalize_region_code(value: str, *, field: str = "region_code") -> str:
    """Return a 6-digit 行政区划代码 whose first two digits are a real province, or refuse it."""
    code = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if code is None or not re.fullmatch(r"\d{6}", code):
        raise InvalidInput(f"{field} must be exactly 6 digits (行政区划代码), e.g. 370102", field=field)
    _check_province(code, field)
    return code


def normalize_region_prefix(value: str, *, field: str = "region") -> str:
    """Return a jurisdiction prefix: 2 (province), 4 (city) or 6 (county) digits of a 行政区划代码."""
    code = value.strip() if isinstance(value, str) else None
    if code is None or not re.fullmatch(r"\d{2}|\d{4}|\d{6}", code):
        raise InvalidInput(
            f"{field} must be 2 (province), 4 (city) or 6 (county) digits of a 行政区划代码, e.g. 37 or 3701",
            field=field,
        )
    _check_province(code, field)
    return code


def province_of(code: str) -> str:
    """The province part (first 2 digits) of a region code or prefix."""
    return normalize_region_prefix(code, field="region_code")[:2]


def city_of(code: str) -> str:
    """The city part (first 4 digits) of a 6-digit region code or 4-digit prefix."""
    prefix = normalize_region_prefix(code, field="region_code")
    if len(prefix) < 4:
        raise InvalidInput("region_code must have at least 4 digits to name a city", field="region_code")
    return prefix[:4]


# ---------------------------------------------------------------------------------------------------------------
# Waste codes
# ---------------------------------------------------------------------------------------------------------------

# Class names of 《固体废物分类与代码目录》(MEE, 2024) as given by secondary sources: TO VERIFY against the
# published catalogue. The same secondary source says S01–S59 are industrial with S08 unused, S60–S69 生活垃圾,
# S70–S79 建筑垃圾, S80–S89 农业固体废物, S90–S99 其他固体废物 (see GENERAL_CLASS_RANGES_TO_VERIFY).
GENERAL_CLASSES_TO_VERIFY: dict[str, str] = {
    "S01": "冶炼废渣",
    "S02": "粉煤灰",
    "S03": "炉渣",
    "S04": "煤矸石",
    "S05": "尾矿",
    "S06": "脱硫石膏",
    "S07": "污泥",
    "S09": "赤泥",
    "S10": "磷石膏",
    "S11": "工业副产石膏",
    "S12": "钻井岩屑",
    "S13": "食品残渣",
    "S14": "纺织皮革业废物",
    "S15": "造纸印刷业废物",
    "S16": "化工废物",
    "S17": "可再生类废物",
    "S59": "其他工业固体废物",
}

GENERAL_CLASS_RANGES_TO_VERIFY: tuple[tuple[int, int, str], ...] = (
    (1, 59, "industrial"),
    (60, 69, "household"),
    (70, 79, "construction"),
    (80, 89, "agricultural"),
    (90, 99, "other"),
)

HAZARDOUS_CATEGORY_RANGE = (1, 50)  # HW01..HW50 (国家危险废物名录); some numbers in between are unused
IDENTIFIED_BY_TESTING_PREFIX = "900-000-"  # 名录第八条: waste found hazardous by testing, not listed

_HAZ_RE = re.compile(r"(\d{3})-?(\d{3})-?(\d{2})")
_GEN_RE = re.compile(r"(\d{3})-?(\d{3})-?S(\d{2})")


@dataclass(frozen=True)
class WasteCodeInfo:
    """A syntactically valid waste code. `industrial` is True for every hazardous code and for general S01–S59."""

    code: str
    hazardous: bool
    category: str
    compact: str
    industrial: bool

    @property
    def is_identified_by_testing(self) -> bool:
        """True for `900-000-CC`: hazardous by testing (鉴别), not listed in the catalogue."""
        return self.hazardous and self.code.startswith(IDENTIFIED_BY_TESTING_PREFIX)

    @property
    def general_domain(self) -> str | None:
        """For general codes: industrial, household, construction, agricultural or other; None if hazardous."""
        if self.hazardous:
            return None
        number = int(self.category[1:])
        return next(name for low, high, name in GENERAL_CLASS_RANGES_TO_VERIFY if low <= number <= high)

    @property
    def general_class_name(self) -> str | None:
        """The class name from GENERAL_CLASSES_TO_VERIFY, if known."""
        return None if self.hazardous else GENERAL_CLASSES_TO_VERIFY.get(self.category)


def parse_waste_code(code: str, *, field: str = "waste_code") -> WasteCodeInfo:
    """Parse a hazardous (`NNN-NNN-CC`) or general (`NNN-NNN-Sxx`) waste code; hyphens may be omitted."""
    return (_valid_waste_code(code) if isinstance(code, str) else None) or _waste_code(code, field)


@lru_cache(maxsize=4096)
def _valid_waste_code(code: str) -> WasteCodeInfo | None:
    """`parse_waste_code` of a string, or None when it is refused, remembered by value: the catalogue has some 500
    codes, and a label scan or a weighing parses one each time. (The caller refuses a None with its own field's
    name.)"""
    try:
        return _waste_code(code, "waste_code")
    except InvalidInput:
        return None


def _waste_code(code: str, field: str) -> WasteCodeInfo:
    """`parse_waste_code` itself, not remembered."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if m := _HAZ_RE.fullmatch(text):
        number = int(m[3])
        if not HAZARDOUS_CATEGORY_RANGE[0] <= number <= HAZARDOUS_CATEGORY_RANGE[1]:
            raise InvalidInput(
                f"{field} {code!r}: the last two digits are the category HW01–HW50, got {m[3]}", field=field
            )
        return WasteCodeInfo(
            code=f"{m[1]}-{m[2]}-{m[3]}",
            hazardous=True,
            category=f"HW{m[3]}",
            compact=f"{m[1]}{m[2]}{m[3]}",
            industrial=True,
        )
    if m := _GEN_RE.fullmatch(text):
        number = int(m[3])
        if not 1 <= number <= 99:
            raise InvalidInput(f"{field} {code!r}: the class must be S01–S99, got S{m[3]}", field=field)
        return WasteCodeInfo(
            code=f"{m[1]}-{m[2]}-S{m[3]}",
            hazardous=False,
            category=f"S{m[3]}",
            compact=f"{m[1]}{m[2]}S{m[3]}",
            industrial=number <= 59,
        )
    raise InvalidInput(
        f"{field} {code!r} is not a waste code: expected NNN-NNN-CC for hazardous waste (e.g. 900-249-08) "
        "or NNN-NNN-Sxx for general solid waste (e.g. 900-001-S03)",
        field=field,
    )


# ---------------------------------------------------------------------------------------------------------------
# Hazard characteristics
# ---------------------------------------------------------------------------------------------------------------

HAZARD_NAMES: dict[str, str] = {"T": "毒性", "C": "腐蚀性", "I": "易燃性", "R": "反应性", "In": "感染性"}
_HAZARD_BY_UPPER = {k.upper(): k for k in HAZARD_NAMES}


def parse_hazard(s: str, *, field: str = "hazard") -> tuple[str, ...]:
    """Split a catalogue hazard string like "T/C/I/R" or "T,In" into codes, in order, without duplicates."""
    if s is None:
        return ()
    parts = [p.strip() for p in re.split(r"[/,，、;；\s]+", str(s)) if p.strip()]
    out: list[str] = []
    for part in parts:
        canonical = _HAZARD_BY_UPPER.get(part.upper())
        if canonical is None:
            raise InvalidInput(
                f"{field}: unknown hazard characteristic {part!r}; expected T, C, I, R or In "
                "separated by / or ,",
                field=field,
            )
        if canonical not in out:
            out.append(canonical)
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# HJ 1276 digital ID (数字识别码)
# ---------------------------------------------------------------------------------------------------------------
# credit code (18) + waste code without hyphens (8) + YYYYMMDD (8) + serial (3) = 37 characters.
# DEPARTURE: HJ 1276 is written for hazardous waste. For general solid waste the code without hyphens is 9
# characters (900001S03), so such IDs are 38 characters long. The split of the 37 characters is TO VERIFY.

DIGITAL_ID_LENGTH = 37
DIGITAL_ID_LENGTH_GENERAL = 38
DIGITAL_ID_SERIAL_MAX = 999

_DIGITAL_ID_RE = re.compile(r"([0-9A-Z]{18})(\d{8}|\d{6}S\d{2})(\d{8})(\d{3})")


@dataclass(frozen=True)
class DigitalIdParts:
    """The four segments of a digital ID."""

    credit_code: str
    waste_code: str
    day: date
    serial: int


def _check_serial_low(serial: int, field: str) -> None:
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        raise InvalidInput(f"{field} must be a whole number from 1", field=field)


def _yyyymmdd(day: date, field: str) -> str:
    if not isinstance(day, date):
        raise InvalidInput(f"{field} must be a date", field=field)
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _parse_yyyymmdd(text: str, field: str, whole: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise InvalidInput(
            f"{field} {whole!r} holds {text}, which is not a date YYYYMMDD", field=field
        ) from None


def make_digital_id(*, credit_code: str, waste_code: str, day: date, serial: int) -> str:
    """Build the HJ 1276 label ID: credit code + waste code without hyphens + YYYYMMDD + 3-digit serial."""
    unit = _valid_credit_code(credit_code) or normalize_credit_code(credit_code)
    waste = parse_waste_code(waste_code)
    _check_serial_low(serial, "serial")
    if serial > DIGITAL_ID_SERIAL_MAX:
        raise Conflict(
            f"digital ID serials of {unit} for {waste.code} on {day.isoformat()} are exhausted "
            f"(at most {DIGITAL_ID_SERIAL_MAX} a day); label further packages on the next day or merge them",
            code="digital_id.serial_exhausted",
            details={"credit_code": unit, "waste_code": waste.code, "day": day.isoformat()},
        )
    return f"{unit}{waste.compact}{_yyyymmdd(day, 'day')}{serial:03d}"


def parse_digital_id(s: str, *, field: str = "digital_id") -> DigitalIdParts:
    """Split a digital ID into its segments, refusing anything malformed."""
    text = s.strip().upper() if isinstance(s, str) else ""
    m = _DIGITAL_ID_RE.fullmatch(text)
    if m is None:
        raise InvalidInput(
            f"{field} must be 37 characters (38 for general solid waste): 统一社会信用代码 (18) + waste code "
            "without hyphens (8, or 9 like 900001S03) + date YYYYMMDD + serial (3 digits)",
            field=field,
        )
    credit = _valid_credit_code(m[1]) or normalize_credit_code(m[1], field=field)
    waste = parse_waste_code(m[2], field=field)
    day = _parse_yyyymmdd(m[3], field, text)
    serial = int(m[4])
    if serial < 1:
        raise InvalidInput(f"{field} {text!r}: the serial must be 001–999", field=field)
    return DigitalIdParts(credit_code=credit, waste_code=waste.code, day=day, serial=serial)


# ---------------------------------------------------------------------------------------------------------------
# HJ 1259 batch codes (附录 B, notes under tables B.1–B.5)
# ---------------------------------------------------------------------------------------------------------------
# HJ 1259 suggests: the initials (pinyin) of the record type + YYYYMMDD + a number, e.g. HWCS20211031001.
#   generated              HWCS    产生           (table B.1 note)
#   stored                 HWRK    入库           (table B.2 note)
#   retrieved              HWCK    出库           (table B.3 note)
#   used_in_house          HWZXLY  自行利用       (table B.4 note)
#   disposed_in_house      HWZXCZ  自行处置       (table B.4 note)
#   sent_out_for_use       HWWWLY  委外利用       (table B.5 note)
#   sent_out_for_disposal  HWWWCZ  委外处置       (table B.5 note)
#   exported_for_use       HWCKLY  出口利用       (table B.5 note)
#   exported_for_disposal  HWCKCZ  出口处置       (table B.5 note)
#   sent_out               HWWW    委外 (our extension, same initials rule: a shipment whose method family is
#                                  not yet known; prefer the two kinds above)
# General industrial solid waste (HJ 1259 covers hazardous waste only) uses the parallel family "GF"
# (一般固废 / 固废): GFCS…, GFRK…, GFCK…, GFZXLY…, and so on.
# Serial: per unit, kind and day; written with 3 digits (001–999) and, beyond 999, in full without leading zeros
# (1000, 1001, …), so every code has exactly one spelling. A batch code is unique within a unit only: the
# globally unique key of a package is its digital ID.

BATCH_KIND_LETTERS: dict[str, str] = {
    "generated": "CS",
    "stored": "RK",
    "retrieved": "CK",
    "used_in_house": "ZXLY",
    "disposed_in_house": "ZXCZ",
    "sent_out_for_use": "WWLY",
    "sent_out_for_disposal": "WWCZ",
    "exported_for_use": "CKLY",
    "exported_for_disposal": "CKCZ",
    "sent_out": "WW",
    "received": "JS",  # 接收: a receiver's receipt of a manifest line (HJ 1259 names no prefix for it)
    "combined": "SJ",  # 收集并批: a collection-centre lot of many producers' batches (our extension)
}
BATCH_FAMILY_HAZARDOUS = "HW"
BATCH_FAMILY_GENERAL = "GF"
BATCH_SERIAL_WIDTH = 3
BATCH_SERIAL_MAX = 999_999_999

_KIND_BY_LETTERS = {v: k for k, v in BATCH_KIND_LETTERS.items()}
_BATCH_RE = re.compile(r"(HW|GF)([A-Z]{2,4})(\d{8})(\d{3,})")


@dataclass(frozen=True)
class BatchCodeParts:
    """The parts of an HJ 1259 batch code."""

    kind: str
    day: date
    serial: int
    hazardous: bool


def batch_prefix(*, kind: str, hazardous: bool) -> str:
    """The letter prefix for a record kind, e.g. HWCS for hazardous generation, GFRK for general storage."""
    letters = BATCH_KIND_LETTERS.get(kind)
    if letters is None:
        raise InvalidInput(f"kind must be one of {', '.join(BATCH_KIND_LETTERS)}; got {kind!r}", field="kind")
    return (BATCH_FAMILY_HAZARDOUS if hazardous else BATCH_FAMILY_GENERAL) + letters


def make_batch_code(*, kind: str, day: date, serial: int, hazardous: bool) -> str:
    """Build an HJ 1259 batch code: prefix + YYYYMMDD + serial (3 digits, more when above 999)."""
    prefix = batch_prefix(kind=kind, hazardous=hazardous)
    _check_serial_low(serial, "serial")
    if serial > BATCH_SERIAL_MAX:
        raise Conflict(
            f"batch serials for {prefix} on {day.isoformat()} are exhausted",
            code="batch_code.serial_exhausted",
        )
    return f"{prefix}{_yyyymmdd(day, 'day')}{serial:0{BATCH_SERIAL_WIDTH}d}"


def parse_batch_code(s: str, *, field: str = "batch_code") -> BatchCodeParts:
    """Split an HJ 1259 batch code into kind, day, serial and family."""
    text = s.strip().upper() if isinstance(s, str) else ""
    m = _BATCH_RE.fullmatch(text)
    kind = _KIND_BY_LETTERS.get(m[2]) if m else None
    if m is None or kind is None:
        raise InvalidInput(
            f"{field} {s!r} is not a batch code: expected HW or GF, the record-type letters "
            f"({', '.join(BATCH_KIND_LETTERS.values())}), YYYYMMDD and a serial, e.g. HWCS20211031001",
            field=field,
        )
    serial_text = m[4]
    if (len(serial_text) > BATCH_SERIAL_WIDTH and serial_text[0] == "0") or int(serial_text) < 1:
        raise InvalidInput(
            f"{field} {s!r}: the serial must be 001–999, or written without leading zeros above 999",
            field=field,
        )
    if int(serial_text) > BATCH_SERIAL_MAX:
        raise InvalidInput(f"{field} {s!r}: the serial is too long", field=field)
    return BatchCodeParts(
        kind=kind,
        day=_parse_yyyymmdd(m[3], field, text),
        serial=int(serial_text),
        hazardous=m[1] == BATCH_FAMILY_HAZARDOUS,
    )


# ---------------------------------------------------------------------------------------------------------------
# Manifest number (危险废物转移管理办法 第十五条)
# ---------------------------------------------------------------------------------------------------------------
# 14 digits: year (4) + province of the originator (2) + its 设区的市 (2) + serial (6) per originating city and
# year, counted from 000001.

MANIFEST_SERIAL_MAX = 999_999


@dataclass(frozen=True)
class ManifestNumberParts:
    """The parts of a manifest number; `city` is the 4-digit city prefix (province included)."""

    year: int
    province: str
    city: str
    serial: int


def make_manifest_number(*, year: int, region_code: str, serial: int) -> str:
    """Build the 14-digit manifest number: YYYY + first 4 digits of the originator's region + 6-digit serial."""
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 9999:
        raise InvalidInput("year must be a four-digit year from 2000", field="year")
    prefix = normalize_region_prefix(region_code, field="region_code")
    if len(prefix) < 4 or prefix[2:4] == "00":
        raise InvalidInput(
            "region_code must name a city (设区的市): 6 digits, or 4, whose digits 3–4 are not 00",
            field="region_code",
        )
    _check_serial_low(serial, "serial")
    if serial > MANIFEST_SERIAL_MAX:
        raise Conflict(
            f"manifest numbers for city {prefix[:4]} in {year} are exhausted (at most {MANIFEST_SERIAL_MAX})",
            code="manifest.serial_exhausted",
            details={"year": year, "city": prefix[:4]},
        )
    return f"{year:04d}{prefix[:4]}{serial:06d}"


def parse_manifest_number(s: str, *, field: str = "manifest_number") -> ManifestNumberParts:
    """Split a 14-digit manifest number into year, province, city and serial."""
    text = s.strip() if isinstance(s, str) else ""
    if not re.fullmatch(r"\d{14}", text):
        raise InvalidInput(
            f"{field} must be 14 digits: year (4) + province (2) + city (2) + serial (6), e.g. 20243701000001",
            field=field,
        )
    year, city, serial = int(text[:4]), text[4:8], int(text[8:])
    _check_province(city, field)
    if year < 2000 or city[2:] == "00" or serial < 1:
        raise InvalidInput(
            f"{field} {text!r}: expected a year from 2000, a city code not ending in 00 and a serial from 000001",
            field=field,
        )
    return ManifestNumberParts(year=year, province=city[:2], city=city, serial=serial)


# ---------------------------------------------------------------------------------------------------------------
# Utilisation / disposal methods (data: ledger/data/methods.csv; TO VERIFY against HJ 1033 appendix F)
# ---------------------------------------------------------------------------------------------------------------

METHOD_KINDS = ("utilisation", "disposal")


@dataclass(frozen=True)
class Method:
    """A utilisation or disposal method code; `counts_as_utilisation` puts it in 综合利用."""

    code: str
    name: str
    kind: str
    counts_as_utilisation: bool


@lru_cache(maxsize=1)
def load_methods() -> dict[str, Method]:
    """Read ledger/data/methods.csv into a dict keyed by method code, in file order."""
    text = resources.files("ledger").joinpath("data/methods.csv").read_text(encoding="utf-8")
    methods: dict[str, Method] = {}
    for row in csv.DictReader(text.splitlines()):
        kind = row["kind"].strip()
        flag = row["counts_as_utilisation"].strip().lower()
        if kind not in METHOD_KINDS or flag not in ("true", "false"):
            raise ValueError(f"methods.csv: bad row {row!r}")
        code = row["code"].strip().upper()
        methods[code] = Method(
            code=code, name=row["name"].strip(), kind=kind, counts_as_utilisation=flag == "true"
        )
    return methods


def get_method(code: str, *, field: str = "method") -> Method:
    """Look up a method code (case-insensitive), refusing unknown ones with the list of known codes."""
    methods = load_methods()
    method = methods.get(code.strip().upper()) if isinstance(code, str) else None
    if method is None:
        raise InvalidInput(f"{field} must be one of {', '.join(methods)}; got {code!r}", field=field)
    return method
