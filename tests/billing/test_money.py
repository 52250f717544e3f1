"""Minor ↔ major units at the provider edge: exact Decimal arithmetic, never float, never rounding up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oja.billing.providers.port import exponent, to_major, to_minor


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (10050, "NGN", Decimal("100.50")),
        (1, "NGN", Decimal("0.01")),
        (0, "NGN", Decimal("0.00")),
        (10_000_000_000_01, "NGN", Decimal("10000000000.01")),
        (10050, "ngn", Decimal("100.50")),
        (199, "USD", Decimal("1.99")),
        (1500, "XOF", Decimal("1500")),
        (7, "UGX", Decimal("7")),
    ],
)
def test_to_major_is_exact(minor: int, currency: str, major: Decimal) -> None:
    assert to_major(minor, currency) == major
    assert str(to_major(minor, currency)) == str(major)
    assert to_minor(str(major), currency) == minor


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [
        ("100.50", "NGN", 10050),
        ("100.5", "NGN", 10050),
        (Decimal("100.50"), "NGN", 10050),
        (100.5, "NGN", 10050),  # a float is read through its repr, not binary arithmetic
        (0.1, "NGN", 10),
        (1.15, "NGN", 115),  # 1.15 * 100 == 114.99999999999999 in binary
        (4.35, "NGN", 435),  # 4.35 * 100 == 434.99999999999994
        (7500, "NGN", 750000),
        ("7500", "NGN", 750000),
        (" 12.00 ", "GHS", 1200),
        ("1500", "XOF", 1500),
        ("100.509", "NGN", 10050),  # sub-kobo digits are dropped: never count more than was paid
        ("100.999", "NGN", 10099),
        ("1500.9", "XOF", 1500),
        ("-1.005", "NGN", -101),  # floor, for negative figures too
    ],
)
def test_to_minor(major: object, currency: str, minor: int) -> None:
    assert to_minor(major, currency) == minor


@pytest.mark.parametrize("bad", [None, True, "", "abc", "NaN", "Infinity", float("inf")])
def test_to_minor_refuses_what_is_not_an_amount(bad: object) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        to_minor(bad, "NGN")


def test_to_major_refuses_floats_and_bools() -> None:
    with pytest.raises(TypeError):
        to_major(100.5, "NGN")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_major(True, "NGN")


def test_exponents() -> None:
    assert [exponent(c) for c in ("NGN", "GHS", "KES", "ZAR", "USD", "XOF", "xaf", "RWF")] == [
        2,
        2,
        2,
        2,
        2,
        0,
        0,
        0,
    ]
