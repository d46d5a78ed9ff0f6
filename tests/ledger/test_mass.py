from decimal import Decimal

import pytest

from ledger.errors import InvalidInput
from ledger.mass import MAX_BATCH_G, g_to_kg, g_to_t, kg_to_g


@pytest.mark.parametrize(
    "value, grams",
    [
        (Decimal("0.001"), 1),
        ("0.001", 1),
        ("12.345", 12_345),
        ("1.0000", 1_000),
        (" 7.5 ", 7_500),
        (3, 3_000),
        ("0", 0),
        ("-0", 0),
        ("1E+3", 1_000_000),
        (Decimal("40000"), MAX_BATCH_G),
        (0.1, 100),
        ("99999999.999", 99_999_999_999),
    ],
)
def test_kg_to_g_is_exact(value, grams):
    assert kg_to_g(value, field="net_kg") == grams


@pytest.mark.parametrize("value", ["1.0005", Decimal("0.0001"), "0.00000000000000000000000000000001", 1.0005])
def test_more_than_three_decimals_is_refused(value):
    with pytest.raises(InvalidInput) as exc:
        kg_to_g(value, field="gross_kg")
    assert exc.value.details["field"] == "gross_kg"
    assert "3 decimal places" in exc.value.message


@pytest.mark.parametrize(
    "value", ["NaN", Decimal("NaN"), "Infinity", "-inf", Decimal("sNaN"), float("nan"), float("inf")]
)
def test_nan_and_infinities_are_refused(value):
    with pytest.raises(InvalidInput) as exc:
        kg_to_g(value, field="tare_kg")
    assert exc.value.details["field"] == "tare_kg"


@pytest.mark.parametrize("value", ["", "abc", "1,5", True, None, [1]])
def test_non_numbers_are_refused(value):
    with pytest.raises(InvalidInput) as exc:
        kg_to_g(value, field="mass_kg")
    assert "kilograms" in exc.value.message


def test_negative_only_when_allowed():
    with pytest.raises(InvalidInput):
        kg_to_g("-1.5", field="mass_kg")
    assert kg_to_g("-1.5", field="delta_kg", allow_negative=True) == -1_500


def test_huge_values_are_refused():
    with pytest.raises(InvalidInput):
        kg_to_g("1E+999999", field="mass_kg")


def test_g_to_kg_and_t():
    assert g_to_kg(1) == Decimal("0.001")
    assert str(g_to_kg(1_500)) == "1.500"
    assert str(g_to_kg(0)) == "0.000"
    assert str(g_to_kg(-12_345)) == "-12.345"
    assert str(g_to_t(1)) == "0.000001"
    assert str(g_to_t(MAX_BATCH_G)) == "40.000000"
    big = 123_456_789_012_345_678_901
    assert g_to_kg(big) * 1000 == big
    with pytest.raises(TypeError):
        g_to_kg(1.5)  # type: ignore[arg-type]


def test_round_trip_sums_agree():
    values = ["0.001", "12.345", "999.999", "0.5"]
    grams = [kg_to_g(v, field="x") for v in values]
    assert g_to_kg(sum(grams)) == sum(Decimal(v) for v in values)
    assert MAX_BATCH_G == 40_000_000
