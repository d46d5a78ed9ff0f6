from datetime import date

import pytest
from stdnum.cn import uscc

from ledger import codes
from ledger.codes import (
    GENERAL_CLASSES_TO_VERIFY,
    HAZARD_NAMES,
    city_of,
    get_method,
    load_methods,
    make_batch_code,
    make_digital_id,
    make_manifest_number,
    normalize_credit_code,
    normalize_region_code,
    normalize_region_prefix,
    parse_batch_code,
    parse_digital_id,
    parse_hazard,
    parse_manifest_number,
    parse_waste_code,
    province_of,
)
from ledger.errors import Conflict, InvalidInput


def valid_code(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


PUBLISHED = "91110000600037341L"  # the example of python-stdnum's documentation
GENERATED = [valid_code(b) for b in ("91370102MA3C4XY81", "12100000400010325", "91440300MA5F0001X")]


# --- credit codes ---------------------------------------------------------------------------------------------


def test_published_code_is_valid_and_the_briefs_example_is_not():
    assert uscc.is_valid(PUBLISHED)
    assert normalize_credit_code(PUBLISHED) == PUBLISHED
    # 91370000163040279X was suggested as an example; its check character is really C.
    assert not uscc.is_valid("91370000163040279X")
    assert uscc.calc_check_digit("91370000163040279") == "C"


@pytest.mark.parametrize("code", GENERATED)
def test_generated_codes_are_valid(code):
    assert normalize_credit_code(code) == code


def test_credit_code_is_stripped_and_uppercased():
    assert normalize_credit_code("  " + PUBLISHED.lower() + "\n") == PUBLISHED


def test_wrong_check_character_names_the_expected_one():
    with pytest.raises(InvalidInput) as exc:
        normalize_credit_code("91110000600037341M", field="receiver_credit_code")
    assert "check character should be L" in exc.value.message
    assert exc.value.details == {"field": "receiver_credit_code", "expected_check_character": "L"}
    assert exc.value.status == 422


@pytest.mark.parametrize(
    "bad, expected",
    [
        ("9111000060003734", "18 characters"),
        ("91110000600037341L0", "18 characters"),
        ("9111000O600037341L", "8 digits followed by"),
        ("91110000600037I41L", "other than I, O, S, V and Z"),
        ("", "18 characters"),
    ],
)
def test_malformed_credit_codes_say_what_is_expected(bad, expected):
    with pytest.raises(InvalidInput) as exc:
        normalize_credit_code(bad)
    assert expected in exc.value.message
    assert exc.value.details["field"] == "credit_code"


def test_credit_code_not_a_string():
    with pytest.raises(InvalidInput):
        normalize_credit_code(None)  # type: ignore[arg-type]


def test_credit_check_character():
    assert codes.credit_check_character("91110000600037341") == "L"
    with pytest.raises(InvalidInput):
        codes.credit_check_character("9111000060003734Z")


# --- regions --------------------------------------------------------------------------------------------------


def test_region_codes():
    assert normalize_region_code(" 370102 ") == "370102"
    assert province_of("370102") == "37"
    assert city_of("370102") == "3701"
    assert city_of("3701") == "3701"
    assert province_of("37") == "37"
    for code in (
        "110101",
        "150102",
        "210102",
        "460105",
        "500101",
        "540102",
        "650102",
        "710000",
        "810000",
        "820000",
    ):
        assert normalize_region_code(code) == code


@pytest.mark.parametrize("bad", ["37010", "3701020", "37O102", "", "37 0102"])
def test_region_code_must_be_six_digits(bad):
    with pytest.raises(InvalidInput) as exc:
        normalize_region_code(bad, field="unit.region_code")
    assert "exactly 6 digits" in exc.value.message
    assert exc.value.details["field"] == "unit.region_code"


@pytest.mark.parametrize(
    "bad", ["100000", "160101", "240101", "300101", "470101", "550101", "660101", "720000", "900000"]
)
def test_region_code_needs_a_real_province(bad):
    with pytest.raises(InvalidInput) as exc:
        normalize_region_code(bad)
    assert "province-level" in exc.value.message


def test_region_prefix():
    assert normalize_region_prefix("37") == "37"
    assert normalize_region_prefix("3701") == "3701"
    assert normalize_region_prefix("370102") == "370102"
    for bad in ("3", "370", "37010", "99"):
        with pytest.raises(InvalidInput):
            normalize_region_prefix(bad)
    with pytest.raises(InvalidInput):
        city_of("37")


# --- waste codes ----------------------------------------------------------------------------------------------


def test_hazardous_waste_code():
    info = parse_waste_code("900-249-08")
    assert info.code == "900-249-08"
    assert info.hazardous and info.industrial
    assert info.category == "HW08"
    assert info.compact == "90024908"
    assert not info.is_identified_by_testing
    assert info.general_domain is None


def test_waste_code_without_hyphens_is_normalised():
    assert parse_waste_code(" 90024908 ").code == "900-249-08"
    assert parse_waste_code("900001s03").code == "900-001-S03"


def test_identified_by_testing():
    info = parse_waste_code("900-000-49")
    assert info.is_identified_by_testing and info.category == "HW49"


def test_general_waste_codes():
    ash = parse_waste_code("900-001-S02")
    assert not ash.hazardous and ash.industrial
    assert ash.category == "S02" and ash.compact == "900001S02"
    assert ash.general_class_name == "粉煤灰"
    assert ash.general_domain == "industrial"
    household = parse_waste_code("900-001-S61")
    assert not household.industrial and household.general_domain == "household"
    assert parse_waste_code("900-001-S99").general_domain == "other"
    assert not parse_waste_code("900-001-S03").is_identified_by_testing


def test_general_classes_constant():
    assert GENERAL_CLASSES_TO_VERIFY["S01"] == "冶炼废渣"
    assert GENERAL_CLASSES_TO_VERIFY["S59"] == "其他工业固体废物"
    assert all(1 <= int(k[1:]) <= 59 for k in GENERAL_CLASSES_TO_VERIFY)


@pytest.mark.parametrize(
    "bad",
    ["900-249-00", "900-249-51", "900-249-99", "900-001-S00", "900-249", "HW08", "900-249-8", "9002490"],
)
def test_bad_waste_codes(bad):
    with pytest.raises(InvalidInput) as exc:
        parse_waste_code(bad, field="lines[0].waste_code")
    assert exc.value.details["field"] == "lines[0].waste_code"


def test_every_code_of_the_2021_catalogue_parses():
    import csv
    from importlib import resources

    text = resources.files("ledger").joinpath("data/hazardous-waste-catalogue-2021.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) > 400
    for row in rows:
        info = parse_waste_code(row["code"])
        assert info.category == row["category"]
        assert set(parse_hazard(row["hazard"])) <= set(HAZARD_NAMES)


# --- hazard ---------------------------------------------------------------------------------------------------


def test_parse_hazard():
    assert parse_hazard("T/C/I/R") == ("T", "C", "I", "R")
    assert parse_hazard("T,In") == ("T", "In")
    assert parse_hazard("t, in / T") == ("T", "In")
    assert parse_hazard("T/C/I/R/In") == ("T", "C", "I", "R", "In")
    assert parse_hazard("") == ()
    assert HAZARD_NAMES["In"] == "感染性"
    with pytest.raises(InvalidInput) as exc:
        parse_hazard("T/X")
    assert "'X'" in exc.value.message


# --- digital ID -----------------------------------------------------------------------------------------------


def test_digital_id_is_37_characters_and_round_trips():
    did = make_digital_id(credit_code=PUBLISHED, waste_code="900-249-08", day=date(2024, 10, 8), serial=7)
    assert did == "91110000600037341L" + "90024908" + "20241008" + "007"
    assert len(did) == 37
    parts = parse_digital_id(did)
    assert parts == codes.DigitalIdParts(PUBLISHED, "900-249-08", date(2024, 10, 8), 7)
    assert parse_digital_id(did.lower()) == parts


def test_digital_id_for_general_waste_is_38_characters():
    did = make_digital_id(
        credit_code=GENERATED[0], waste_code="900-001-S03", day=date(2025, 1, 2), serial=999
    )
    assert len(did) == 38
    assert did.endswith("900001S0320250102999")
    assert parse_digital_id(did).waste_code == "900-001-S03"


def test_digital_id_serial_bounds():
    with pytest.raises(Conflict) as exc:
        make_digital_id(credit_code=PUBLISHED, waste_code="900-249-08", day=date(2024, 1, 1), serial=1000)
    assert exc.value.code == "digital_id.serial_exhausted"
    assert exc.value.status == 409
    with pytest.raises(InvalidInput):
        make_digital_id(credit_code=PUBLISHED, waste_code="900-249-08", day=date(2024, 1, 1), serial=0)


def test_digital_id_validates_its_parts():
    with pytest.raises(InvalidInput) as exc:
        make_digital_id(
            credit_code="91110000600037341M", waste_code="900-249-08", day=date(2024, 1, 1), serial=1
        )
    assert "should be L" in exc.value.message
    with pytest.raises(InvalidInput):
        make_digital_id(credit_code=PUBLISHED, waste_code="900-249-77", day=date(2024, 1, 1), serial=1)


@pytest.mark.parametrize(
    "bad",
    [
        "91110000600037341L9002490820241008007" + "1",  # too long
        "91110000600037341L900249082024100800",  # too short
        "91110000600037341M9002490820241008007",  # check character
        "91110000600037341L9002490820241308007",  # month 13
        "91110000600037341L9002490820241008000",  # serial 000
        "91110000600037341L9002497720241008007",  # category 77
        "",
    ],
)
def test_malformed_digital_ids_are_refused(bad):
    with pytest.raises(InvalidInput) as exc:
        parse_digital_id(bad)
    assert exc.value.details["field"] == "digital_id"


# --- batch codes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, hazardous, expected",
    [
        ("generated", True, "HWCS20211031001"),  # HJ 1259 table B.1 note
        ("stored", True, "HWRK20211031001"),  # B.2
        ("retrieved", True, "HWCK20211031001"),  # B.3
        ("used_in_house", True, "HWZXLY20211031001"),  # B.4
        ("disposed_in_house", True, "HWZXCZ20211031001"),  # B.4
        ("sent_out_for_use", True, "HWWWLY20211031001"),  # B.5
        ("sent_out_for_disposal", True, "HWWWCZ20211031001"),  # B.5
        ("exported_for_use", True, "HWCKLY20211031001"),  # B.5
        ("exported_for_disposal", True, "HWCKCZ20211031001"),  # B.5
        ("sent_out", True, "HWWW20211031001"),
        ("generated", False, "GFCS20211031001"),
        ("retrieved", False, "GFCK20211031001"),
    ],
)
def test_batch_codes_match_hj_1259_examples(kind, hazardous, expected):
    code = make_batch_code(kind=kind, day=date(2021, 10, 31), serial=1, hazardous=hazardous)
    assert code == expected
    assert parse_batch_code(code) == codes.BatchCodeParts(kind, date(2021, 10, 31), 1, hazardous)


def test_batch_serial_grows_beyond_999():
    day = date(2024, 10, 8)
    assert make_batch_code(kind="generated", day=day, serial=999, hazardous=True) == "HWCS20241008999"
    assert make_batch_code(kind="generated", day=day, serial=1000, hazardous=True) == "HWCS202410081000"
    assert make_batch_code(kind="stored", day=day, serial=123456, hazardous=False) == "GFRK20241008123456"
    assert parse_batch_code("HWCS202410081000").serial == 1000
    # one spelling per serial: leading zeros only pad to 3 digits
    with pytest.raises(InvalidInput):
        parse_batch_code("HWCS202410080001")


@pytest.mark.parametrize(
    "bad",
    ["HWXX20211031001", "HWCS2021103101", "HWCS20211331001", "HWCS20211031000", "XXCS20211031001", "HWCS"],
)
def test_bad_batch_codes(bad):
    with pytest.raises(InvalidInput):
        parse_batch_code(bad)


def test_batch_kind_must_be_known():
    with pytest.raises(InvalidInput) as exc:
        make_batch_code(kind="burnt", day=date(2024, 1, 1), serial=1, hazardous=True)
    assert "generated" in exc.value.message and exc.value.details["field"] == "kind"
    with pytest.raises(InvalidInput):
        make_batch_code(kind="generated", day=date(2024, 1, 1), serial=0, hazardous=True)


# --- manifest numbers -----------------------------------------------------------------------------------------


def test_manifest_number():
    number = make_manifest_number(year=2024, region_code="370102", serial=1)
    assert number == "20243701000001"
    assert len(number) == 14 and number.isdigit()
    assert parse_manifest_number(number) == codes.ManifestNumberParts(2024, "37", "3701", 1)
    assert make_manifest_number(year=2025, region_code="3302", serial=999999) == "20253302999999"


def test_manifest_serial_exhausted():
    with pytest.raises(Conflict) as exc:
        make_manifest_number(year=2024, region_code="370102", serial=1_000_000)
    assert exc.value.code == "manifest.serial_exhausted"
    with pytest.raises(InvalidInput):
        make_manifest_number(year=2024, region_code="370102", serial=0)


def test_manifest_needs_a_city():
    with pytest.raises(InvalidInput):
        make_manifest_number(year=2024, region_code="370000", serial=1)
    with pytest.raises(InvalidInput):
        make_manifest_number(year=2024, region_code="37", serial=1)
    with pytest.raises(InvalidInput):
        make_manifest_number(year=24, region_code="370102", serial=1)


@pytest.mark.parametrize(
    "bad",
    [
        "2024370100000",
        "202437010000001",
        "20249901000001",
        "20243700000001",
        "20243701000000",
        "2024370100000A",
    ],
)
def test_bad_manifest_numbers(bad):
    with pytest.raises(InvalidInput):
        parse_manifest_number(bad)


# --- methods --------------------------------------------------------------------------------------------------


def test_methods_table():
    methods = load_methods()
    expected = [
        "R1",
        "R2",
        "R3",
        "R4",
        "R5",
        "R6",
        "R7",
        "R8",
        "R9",
        "R15",
        "D1",
        "D9",
        "D10",
        "D16",
        "C1",
        "C2",
        "C3",
    ]
    assert list(methods) == expected
    for code, method in methods.items():
        assert method.counts_as_utilisation == (not code.startswith("D"))
        assert method.kind in ("utilisation", "disposal")
        assert method.name
    assert methods["D10"].name == "焚烧" and methods["D10"].kind == "disposal"
    assert get_method("r9").code == "R9"
    assert get_method("C1").counts_as_utilisation
    with pytest.raises(InvalidInput):
        get_method("R10")


def test_parsing_remembered_answers_as_before():
    """parse_digital_id and parse_waste_code remember what they parsed (a unit's credit code, the catalogue's
    codes); a refused value is still refused each time, naming the field of that call."""
    good = "91110000600037341L9002490820241008007"
    assert parse_digital_id(good) == parse_digital_id(good.lower())
    assert parse_digital_id(good).credit_code == PUBLISHED
    for field in ("digital_id", "lines[0].digital_id", "digital_id"):
        with pytest.raises(InvalidInput) as exc:
            parse_digital_id("91110000600037341M9002490820241008007", field=field)
        assert exc.value.details["field"] == field and "should be L" in exc.value.message
    assert parse_waste_code("90024908") is parse_waste_code("90024908")
    for field in ("waste_code", "lines[0].waste_code"):
        with pytest.raises(InvalidInput) as exc:
            parse_waste_code("900-249-77", field=field)
        assert exc.value.details["field"] == field and "HW01–HW50" in exc.value.message
    for bad in (None, 90024908, ["900-249-08"]):
        with pytest.raises(InvalidInput) as exc:
            parse_waste_code(bad)  # not a string: refused as before, never a TypeError from the memo
        assert repr(bad) in exc.value.message  # and the message shows what was given
