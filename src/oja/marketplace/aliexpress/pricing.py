"""The price rule: a source cost → the store's price, in the store's currency, in minor units.

``cost → × rate → × multiplier → + markup → up to the next price ending``. Every step is exact
decimal arithmetic; the converted, multiplied amount is rounded half up to the currency's minor
unit before the markup (an integer) is added, and the ending only ever raises a price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from oja.billing.providers.port import exponent, to_major


class MissingRate(ValueError):
    """No configured rate converts one currency to the other."""


@dataclass(frozen=True, slots=True)
class PriceRule:
    currency: str
    multiplier: Decimal = Decimal(1)
    markup: int = 0
    ending: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "multiplier": str(self.multiplier),
            "markup": self.markup,
            "ending": None if self.ending is None else str(self.ending),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PriceRule:
        ending = data.get("ending")
        return cls(
            currency=str(data["currency"]),
            multiplier=Decimal(str(data.get("multiplier", "1"))),
            markup=int(data.get("markup", 0)),
            ending=None if ending is None else Decimal(str(ending)),
        )


def rate(rates: Mapping[str, Decimal], source: str, target: str) -> Decimal:
    """1 ``source`` in ``target``: ``"SRC/TGT"`` as configured, or the inverse of ``"TGT/SRC"``."""
    if source == target:
        return Decimal(1)
    direct = rates.get(f"{source}/{target}")
    if direct is not None:
        return Decimal(direct)
    inverse = rates.get(f"{target}/{source}")
    if inverse is not None and inverse != 0:
        return Decimal(1) / Decimal(inverse)
    raise MissingRate(f"no rate from {source} to {target} in OJA_ALIEXPRESS_CURRENCY_RATES")


def _minor(major: Decimal, currency: str) -> int:
    return int(major.scaleb(exponent(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply(rule: PriceRule, cost: int, cost_currency: str, rates: Mapping[str, Decimal]) -> int:
    """The store price of a variant costing ``cost`` minor units of ``cost_currency``."""
    converted = to_major(cost, cost_currency) * rate(rates, cost_currency, rule.currency)
    price = _minor(converted * rule.multiplier, rule.currency) + rule.markup
    if rule.ending is None:
        return price
    whole = int(rule.ending)
    step = _minor(Decimal(10) ** len(str(whole)) if whole else Decimal(1), rule.currency)
    ending = _minor(rule.ending, rule.currency) % step
    return price + (ending - price) % step
