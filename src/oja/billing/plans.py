"""The plans Oja sells, as data: daily chat-prompt tiers for users and monthly
traffic plans for vendors.

A plan is code, not a table: its limits are read on hot paths (every chat prompt, every vendor
visit) and change only with a release. Prices live at the provider (``OJA_STRIPE_PRO_PRICE_ID``);
``None`` as a limit means unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Audience(StrEnum):
    chat = "chat"
    vendor = "vendor"


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    audience: Audience
    interval: Literal["day", "month", "year"] | None
    """Billing interval; None for free plans."""
    paid: bool
    daily_prompt_limit: int | None = None
    """Chat prompts per UTC day (chat plans)."""
    user_limit: int | None = None
    """Distinct users a vendor may serve per billing interval (vendor plans)."""
    provider: Literal["stripe", "paystack"] | None = None


CHAT_BASIC = Plan(
    code="chat_basic",
    name="Basic",
    audience=Audience.chat,
    interval=None,
    paid=False,
    daily_prompt_limit=5,
)
CHAT_PRO = Plan(
    code="chat_pro",
    name="Pro",
    audience=Audience.chat,
    interval="month",
    paid=True,
    daily_prompt_limit=None,
    provider="stripe",
)


def _vendor(code: str, name: str, interval: Literal["month", "year"], users: int | None) -> Plan:
    return Plan(
        code=code,
        name=name,
        audience=Audience.vendor,
        interval=interval,
        paid=True,
        user_limit=users,
        provider="paystack",
    )


VENDOR_PLANS = (
    _vendor("vendor_basic_monthly", "Basic Monthly", "month", 100),
    _vendor("vendor_basic_yearly", "Basic Yearly", "year", 150),
    _vendor("vendor_premium_monthly", "Premium Monthly", "month", 300),
    _vendor("vendor_premium_yearly", "Premium Yearly", "year", 700),
    _vendor("vendor_diamond_monthly", "Diamond Monthly", "month", None),
    _vendor("vendor_diamond_yearly", "Diamond Yearly", "year", None),
)

PLANS: dict[str, Plan] = {plan.code: plan for plan in (CHAT_BASIC, CHAT_PRO, *VENDOR_PLANS)}

CHAT_PROMPTS_METRIC = "chat.prompts"
"""The quota metric the chat module reserves one unit of per prompt."""


def plan(code: str) -> Plan:
    return PLANS[code]
