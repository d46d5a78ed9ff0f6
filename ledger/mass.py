"""Mass: an integer number of grams inside; kilograms (decimal, at most 3 places) at the API; tonnes in reports.

Conversions are exact: no float arithmetic anywhere, so sums of grams always agree with sums of kilograms.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ledger.errors import InvalidInput

MAX_BATCH_G = 40_000_000
"""The heaviest single batch accepted (40 t: a full truck at the weighbridge)."""

MAX_INPUT_G = 10**15
"""A sanity ceiling for any mass handed to kg_to_g (10^9 t); real limits are checked by the services."""


def _as_decimal(value: Decimal | str | int | float, field: str) -> Decimal:
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be a number of kilograms, not a boolean", field=field)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr() is the shortest decimal that round-trips, i.e. what the sender wrote (0.1 → "0.1").
        return _as_decimal(repr(value), field)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise InvalidInput(
        f"{field} must be a number of kilograms with at most 3 decimal places, e.g. 12.345; got {value!r}",
        field=field,
    )


def kg_to_g(value: Decimal | str | int, *, field: str, allow_negative: bool = False) -> int:
    """Convert kilograms to whole grams exactly; refuses more than 3 decimal places, NaN, infinity, negatives."""
    kg = _as_decimal(value, field)
    if not kg.is_finite():
        raise InvalidInput(f"{field} must be a finite number of kilograms; got {value!r}", field=field)
    if kg.is_zero():
        return 0
    if kg.adjusted() > 15:  # beyond 10^16 kg: refuse before building huge integers
        raise InvalidInput(f"{field} is implausibly large: {value!r} kg", field=field)
    sign, digits, exponent = kg.as_tuple()
    shift = exponent + 3  # grams = digits × 10^(exponent + 3)
    if shift >= 0:
        grams = int("".join(map(str, digits))) * 10**shift
    else:
        kept, dropped = digits[:shift], digits[shift:]
        if any(dropped):
            raise InvalidInput(
                f"{field} must have at most 3 decimal places (whole grams); got {value!r}", field=field
            )
        grams = int("".join(map(str, kept)) or "0")
    if sign:
        grams = -grams
    if grams < 0 and not allow_negative:
        raise InvalidInput(f"{field} must not be negative; got {value!r}", field=field)
    if abs(grams) > MAX_INPUT_G:
        raise InvalidInput(f"{field} is implausibly large: {value!r} kg", field=field)
    return grams


def _check_grams(g: int) -> None:
    if not isinstance(g, int) or isinstance(g, bool):
        raise TypeError(f"grams must be an int, got {type(g).__name__}")


def g_to_kg(g: int) -> Decimal:
    """Grams to kilograms as a Decimal with exactly 3 decimal places."""
    _check_grams(g)
    return Decimal(f"{g}E-3")


def g_to_t(g: int) -> Decimal:
    """Grams to tonnes as a Decimal with exactly 6 decimal places."""
    _check_grams(g)
    return Decimal(f"{g}E-6")
