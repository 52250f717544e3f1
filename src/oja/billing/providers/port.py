"""The payment-provider port: one interface every provider adapter implements, its normalised
results, the provider-call exceptions, and the money conversion rule.

Invariants: every amount that crosses this port is an ``int`` in minor units beside an upper-case
ISO 4217 currency. An adapter whose provider speaks major units (Flutterwave) converts at its own
edge with :func:`to_major` / :func:`to_minor` — Decimal arithmetic, never ``float``. Adapters raise
only the three exceptions below; :func:`oja.billing.errors.from_provider` is the one place that
turns them into Oja's errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Literal, Protocol

# Provider-call exceptions


class ProviderCallError(Exception):
    """A provider call that did not produce an answer we can use."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.provider_code = provider_code
        """The provider's own machine code (Paystack ``code``), when it sent one."""


class ProviderCallRefused(ProviderCallError):
    """A 4xx (or an error envelope): the request was wrong or declined. Retrying cannot help."""


class ProviderCallUnavailable(ProviderCallError):
    """A 5xx, a timeout, a refused connection or an unreadable answer: retryable."""


class ProviderCallRateLimited(ProviderCallUnavailable):
    """429: retryable after ``retry_after`` seconds (None when the provider did not say)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retry_after: float | None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status_code=429, provider_code=provider_code)
        self.retry_after = retry_after


class InvalidWebhook(Exception):
    """A webhook delivery that is not authentic (``signature``) or not an event (``payload``)."""

    def __init__(self, message: str, *, reason: Literal["signature", "payload"]) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


# Money: minor units inside, the provider's unit at its edge only

ZERO_DECIMAL_CURRENCIES = frozenset({"XOF", "XAF", "UGX", "RWF", "GNF", "JPY", "KRW", "CLP"})
"""ISO 4217 exponent 0: one major unit is one minor unit (Flutterwave sends ``"amount": 1500``)."""


def exponent(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def to_major(minor: int, currency: str) -> Decimal:
    """``10050`` NGN → ``Decimal("100.50")``; exact for every integer."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError("amounts inside Oja are int minor units")
    places = exponent(currency)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def to_minor(major: Any, currency: str) -> int:
    """A provider's major-unit figure (``"100.50"``, ``Decimal``, ``int``) → minor units.

    Money received is rounded down (``ROUND_FLOOR``) when a provider reports more decimals than the
    currency has: Oja never counts more than was paid. A ``float`` is read through its shortest
    ``repr`` (``100.5`` → ``"100.5"``), never through binary arithmetic. Raises ``ValueError`` for
    anything that is not a finite number.
    """
    if isinstance(major, bool) or major is None:
        raise ValueError(f"not an amount: {major!r}")
    try:
        value = Decimal(repr(major)) if isinstance(major, float) else Decimal(str(major).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {major!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {major!r}")
    return int(value.scaleb(exponent(currency)).to_integral_value(rounding=ROUND_FLOOR))


# Normalised results


@dataclass(frozen=True, slots=True)
class InitializedTransaction:
    reference: str
    authorization_url: str
    access_code: str
    """Paystack's access code; empty for providers without one (Flutterwave Standard)."""


TransactionStatus = str
"""Paystack's vocabulary (``success``, ``failed``, ``abandoned``, ``pending``, ``ongoing``,
``reversed``…), which :func:`oja.billing.states.from_paystack` reads; other adapters map onto it."""


@dataclass(frozen=True, slots=True)
class VerifiedTransaction:
    reference: str
    status: TransactionStatus
    amount: int
    currency: str
    paid_at: datetime | None
    gateway_response: str | None
    channel: str | None
    provider_id: str | None = None
    """The provider's own transaction id (Flutterwave needs it to verify and refund)."""
    provider_status: str | None = None
    """The provider's word before normalisation (``successful`` for Flutterwave)."""
    fees: int | None = None
    split_shares: dict[str, int] | None = None
    """A split payment's actual allocation: subaccount code → minor units it received (Paystack
    ``split.shares.subaccounts``); None when the payment was not split."""


@dataclass(frozen=True, slots=True)
class RefundResult:
    id: str
    status: str
    amount: int
    currency: str
    merchant_note: str | None = None
    """Paystack's free-text note: Oja's own request id, to find a refund a crashed caller made."""


TransferStatus = Literal["pending", "otp", "success", "failed", "reversed"]


@dataclass(frozen=True, slots=True)
class TransferResult:
    reference: str
    status: TransferStatus
    amount: int
    currency: str
    transfer_code: str | None
    """Paystack ``TRF_…`` (needed to finalise with an OTP); Flutterwave's numeric id."""
    provider_status: str
    fee: int | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class BulkTransferResult:
    batch_id: str | None
    transfers: tuple[TransferResult, ...]
    """What the provider said about each transfer at once (empty when it queues the batch whole)."""


@dataclass(frozen=True, slots=True)
class TransferOrder:
    """One transfer of a bulk request."""

    amount: int
    currency: str
    reference: str
    recipient: Recipient
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Bank:
    code: str
    name: str
    country: str | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedAccount:
    account_number: str
    account_name: str
    bank_code: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a transfer goes: Paystack pays a recipient code, Flutterwave a bank account."""

    code: str
    name: str
    account_number: str
    bank_code: str
    currency: str


@dataclass(frozen=True, slots=True)
class Subaccount:
    code: str
    """Paystack ``ACCT_…`` / Flutterwave ``RS_…``: what a split names."""
    provider_id: str
    business_name: str
    account_number: str
    bank: str
    """As the provider returns it (Paystack answers the bank's *name* for the code it was sent)."""
    commission_percent: Decimal | None
    """The main account's share in percent (Paystack ``percentage_charge``, Flutterwave
    ``split_value`` × 100 for percentage splits)."""
    active: bool = True


@dataclass(frozen=True, slots=True)
class Split:
    code: str
    name: str
    type: Literal["percentage", "flat"]
    currency: str
    shares: tuple[tuple[str, int], ...]
    """``(subaccount code, share)``: percent, or minor units for flat splits."""
    bearer_type: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Dispute:
    id: str
    status: str
    resolution: str | None
    refund_amount: int
    currency: str
    transaction_reference: str | None
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """An authentic webhook delivery, normalised. Nothing in it is trusted as a figure: the
    subject (``reference`` / ``transaction_id``) is verified through the provider's API first."""

    provider: str
    type: str
    """Normalised: ``charge.success``, ``charge.failed``, ``transfer.success``,
    ``transfer.failed``, ``transfer.reversed``, ``refund.<status>``, ``dispute.<stage>``, or the
    provider's own name for anything else."""
    event_id: str
    """Dedupe key for the inbox."""
    reference: str | None
    transaction_id: str | None
    provider_type: str
    payload: dict[str, Any] = field(default_factory=dict)


# The port


class PaymentProvider(Protocol):
    """What Oja needs of a payment provider. Adapters: :class:`~.paystack.PaystackClient`,
    :class:`~.flutterwave.FlutterwaveClient`."""

    name: str

    async def initialize(
        self,
        *,
        email: str,
        amount: int,
        currency: str,
        reference: str,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> InitializedTransaction: ...

    async def verify(self, reference: str) -> VerifiedTransaction: ...

    async def refund(
        self, *, reference: str, amount: int | None, currency: str
    ) -> RefundResult: ...

    async def transfer(
        self,
        *,
        amount: int,
        currency: str,
        reference: str,
        recipient: Recipient,
        reason: str | None = None,
    ) -> TransferResult: ...

    async def bulk_transfer(self, orders: Sequence[TransferOrder]) -> BulkTransferResult: ...

    async def verify_transfer(self, reference: str) -> TransferResult: ...

    async def list_banks(self, country: str = "NG") -> list[Bank]: ...

    async def resolve_account(self, *, account_number: str, bank_code: str) -> ResolvedAccount: ...

    async def create_recipient(
        self, *, name: str, account_number: str, bank_code: str, currency: str
    ) -> Recipient: ...

    async def create_subaccount(
        self,
        *,
        business_name: str,
        bank_code: str,
        account_number: str,
        commission_percent: Decimal,
        email: str | None = None,
        phone: str | None = None,
    ) -> Subaccount: ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent: ...
