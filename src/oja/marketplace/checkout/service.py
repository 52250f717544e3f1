"""Checkout: the cart becomes one order group (one payment) and one store order per store.

Everything happens in the request's one transaction: every line re-priced with the catalogue's
pricing function, stock reserved by one conditional UPDATE for all lines (``stock >= wanted``:
never read-then-write, so concurrent checkouts can never oversell), discount uses counted under
their limits, the group, the store orders with their line snapshots, the first transition of each
order, the stock movements and the discount redemptions written, the cart emptied, and the payment
initialised with the provider. Any failure — a line short of stock, a discount used up meanwhile,
the provider down — rolls all of it back: no reservation without a payment, no payment without
its orders.

``Idempotency-Key``: the group is unique per buyer and key. A repeat with the same body answers the
first checkout's 201 again; with another body, 409 ``idempotency_key_reused`` (billing's, the body's
fingerprint being kept on the payment). Two concurrent twins both reserve; the one whose group
insert loses discards its work and answers the winner's.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from oja.billing import repository as billing_repository
from oja.billing import service as billing_service
from oja.billing.config import BillingSettings
from oja.billing.errors import IdempotencyKeyReused, InvalidInput
from oja.billing.states import public_status
from oja.core.clock import utcnow
from oja.core.db import discard
from oja.core.ids import uuid7
from oja.identity.models import User
from oja.marketplace.cart import repository as cart_repository
from oja.marketplace.cart.service import PricedLine, price, vendor_ids
from oja.marketplace.checkout import repository
from oja.marketplace.checkout.models import DiscountRedemption
from oja.marketplace.checkout.schemas import (
    CheckoutOut,
    CheckoutRequest,
    OrderLineOut,
    PayAgainRequest,
    PaymentOut,
    StoreOrderOut,
)
from oja.marketplace.config import MarketplaceSettings
from oja.marketplace.errors import (
    CartCurrencyMismatch,
    CartEmpty,
    DiscountCodeInvalid,
    DiscountExhausted,
    LinesUnavailable,
    OrderGroupNotFound,
    OutOfStock,
    PaymentNotRetryable,
)
from oja.marketplace.orders import repository as orders_repository
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderLine,
    OrderStatus,
    StoreOrder,
)
from oja.marketplace.payouts import subaccounts
from oja.marketplace.plans import service as plans
from oja.marketplace.pricing import repository as pricing_repository
from oja.marketplace.pricing.models import Discount

log = structlog.get_logger("oja.marketplace.checkout")
CHECKOUT_REASON = "checkout"
Values = dict[str, Any]
"""A row's columns, to insert."""


async def checkout(
    db: AsyncSession,
    user: User,
    body: CheckoutRequest,
    *,
    idempotency_key: str | None,
    settings: MarketplaceSettings,
    billing: BillingSettings,
) -> CheckoutOut:
    fingerprint = billing_service.request_fingerprint(body.model_dump(mode="json"))
    if idempotency_key:
        existing = await repository.group_by_key(db, user.id, idempotency_key)
        if existing is not None:
            return await _replay(db, existing, fingerprint)
    if not user.email:
        raise InvalidInput("An email address is required to pay: add one to your account.")
    cart = await cart_repository.lines(db, user.id)
    if not cart:
        raise CartEmpty("Your cart is empty.")
    now = utcnow()
    code = body.discount_code
    discounts = await pricing_repository.live_discounts(db, vendor_ids(cart), now, code)
    lines = price(cart, discounts, now, code)
    _check(lines, code)
    by_store: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for line in lines:
        by_store.setdefault(line.offer.vendor_id, []).append(_line_ref(line))
    await plans.admit_all(db, by_store.keys(), user.id, lines=by_store)
    movements = await _reserve(db, user.id, lines, now)
    by_id = {d.id: d for d in discounts}
    used = {i: by_id[i] for line in lines for i in line.quote.discount_ids}
    await _count_discounts(db, user.id, used)

    group_id = uuid7()
    orders, order_lines = _orders(group_id, user.id, lines)
    currency = lines[0].offer.currency
    total = sum(o["total"] for o in orders)
    metadata: dict[str, Any] = {"order_group_id": str(group_id)}
    split = None  # Paystack settles provider-split stores directly (OJA_MARKETPLACE_SETTLEMENT)
    made = None
    if body.provider == "paystack" and settings.settlement == "provider_split":
        made = await subaccounts.checkout_split(
            db,
            [StoreOrder(**o) for o in orders],
            [OrderLine(**ln) for ln in order_lines],
            currency,
            settings,
        )
    if made is not None:
        split, recorded = made
        metadata.update(recorded)
    payment = await billing_service.open_payment(
        db,
        user_id=user.id,
        email=user.email,
        amount=total,
        currency=currency,
        metadata=metadata,
        callback_url=str(body.callback_url) if body.callback_url else None,
        request_hash=fingerprint,
        settings=billing,
        provider=body.provider,
        split=split,
    )
    group = {
        "id": group_id,
        "buyer_id": user.id,
        "status": str(GroupStatus.awaiting_payment),
        "currency": currency,
        "subtotal": sum(o["subtotal"] for o in orders),
        "discount_total": sum(o["discount_total"] for o in orders),
        "total": total,
        "shipping_address": body.shipping_address.model_dump(mode="json"),
        "discount_code": body.discount_code,
        "provider": body.provider,
        "payment_reference": payment.reference,
        "authorization_url": payment.authorization_url,
        "idempotency_key": idempotency_key,
        "expires_at": now + timedelta(minutes=settings.reservation_minutes),
        "created_at": now,
        "updated_at": now,
    }
    if not await repository.insert_group(db, group):
        # A concurrent request with this key won: drop our reservation and payment, answer its.
        assert idempotency_key is not None
        await discard(db)
        winner = await repository.group_by_key(db, user.id, idempotency_key)
        assert winner is not None
        return await _replay(db, winner, fingerprint)
    transitions = [
        {
            "id": uuid7(),
            "vendor_id": o["vendor_id"],
            "order_id": o["id"],
            "from_status": None,
            "to_status": str(OrderStatus.pending),
            "actor_id": user.id,
            "note": "checkout",
            "created_at": now,
        }
        for o in orders
    ]
    await repository.insert_orders(db, orders, order_lines, transitions, movements)
    db.add_all(
        DiscountRedemption(
            discount_id=d.id, vendor_id=d.vendor_id, group_id=group_id, buyer_id=user.id
        )
        for d in used.values()
    )
    await cart_repository.remove_lines(db, user.id, [line.line.id for line in lines])
    await db.flush()
    log.info(
        "marketplace.checkout.completed",
        group_id=str(group_id),
        orders=len(orders),
        total=total,
        currency=currency,
    )
    return _first_out(group, orders, order_lines)


async def pay_again(
    db: AsyncSession,
    user: User,
    group_id: uuid.UUID,
    body: PayAgainRequest,
    *,
    billing: BillingSettings,
) -> CheckoutOut:
    """A new payment attempt for the buyer's unpaid group whose current attempt failed: a new
    transaction with the group's provider under a new reference (never the old one), made the
    group's current attempt by one conditional UPDATE; the reservation and its expiry stand."""
    group = await orders_repository.buyer_group(db, user.id, group_id)
    if group is None:
        raise OrderGroupNotFound("No such order group.")
    now = utcnow()
    if group.status != GroupStatus.awaiting_payment or group.expires_at <= now:
        status = (
            GroupStatus.expired if group.status == GroupStatus.awaiting_payment else group.status
        )
        raise PaymentNotRetryable(
            f"This order group cannot be paid any more: it is {status}.",
            details={"status": str(status)},
        )
    current = (
        await billing_repository.payment_by_reference(db, group.payment_reference)
        if group.payment_reference
        else None
    )
    if current is not None and current.status != "failed":
        raise PaymentNotRetryable(
            "The current payment has not failed: complete it at its authorization_url, or wait "
            "for its result.",
            details={"payment_status": public_status(current.status)},
        )
    email = current.email if current is not None else user.email
    if not email:
        raise InvalidInput("An email address is required to pay: add one to your account.")
    payment = await billing_service.open_payment(
        db,
        user_id=user.id,
        email=email,
        amount=group.total,
        currency=group.currency,
        metadata={"order_group_id": str(group.id)},
        callback_url=str(body.callback_url) if body.callback_url else None,
        request_hash=None,
        settings=billing,
        provider="flutterwave" if group.provider == "flutterwave" else "paystack",
    )
    assert payment.authorization_url is not None
    if not await repository.replace_attempt(
        db,
        group.id,
        old_reference=group.payment_reference,
        reference=payment.reference,
        authorization_url=payment.authorization_url,
        now=now,
    ):
        # Paid, expired or retried meanwhile: the new transaction is dropped with this request.
        raise PaymentNotRetryable("The order group changed meanwhile: look at it again.")
    await db.flush()
    await db.refresh(group)
    log.info(
        "marketplace.checkout.pay_again",
        group_id=str(group.id),
        reference=payment.reference,
        replaced=current.reference if current is not None else None,
    )
    orders = await repository.group_orders(db, group.id)
    return _out(group, orders, await repository.group_lines(db, orders))


def _check(lines: Sequence[PricedLine], code: str | None) -> None:
    gone = [line for line in lines if not line.available]
    if gone:
        raise LinesUnavailable(
            "Some lines are no longer on sale: remove them from your cart.",
            details={"lines": [_line_ref(line) for line in gone]},
        )
    currencies = sorted({line.offer.currency for line in lines})
    if len(currencies) > 1:
        raise CartCurrencyMismatch(
            "A cart is paid in one currency.", details={"currencies": currencies}
        )
    if code is not None and not any(d.code == code for line in lines for d in line.applied):
        raise DiscountCodeInvalid(
            f"The code {code!r} gives no discount on this cart.", details={"code": code}
        )


def _line_ref(line: PricedLine) -> dict[str, Any]:
    return {
        "cart_item_id": str(line.line.id),
        "variant_id": str(line.offer.variant_id),
        "sku": line.offer.sku,
    }


async def _reserve(
    db: AsyncSession, buyer_id: uuid.UUID, lines: Sequence[PricedLine], now: datetime
) -> list[Values]:
    """Reserve every line's stock in one conditional UPDATE; the stock movements to record. On
    any shortfall raise :class:`OutOfStock` naming the short lines (the transaction then rolls
    back, the lines that were reserved included)."""
    wanted = {line.offer.variant_id: (line.offer.vendor_id, line.line.quantity) for line in lines}
    after = await repository.move_stock(db, wanted, sign=-1)
    if len(after) < len(wanted):
        short = {k: v for k, v in wanted.items() if k not in after}
        levels = await repository.stock_levels(db, short)
        raise OutOfStock(
            "Not enough stock for some lines; nothing was reserved.",
            details={
                "lines": [
                    {
                        "variant_id": str(line.offer.variant_id),
                        "sku": line.offer.sku,
                        "requested": line.line.quantity,
                        "available": levels.get(line.offer.variant_id, 0),
                    }
                    for line in lines
                    if line.offer.variant_id in short
                ]
            },
        )
    return [
        {
            "id": uuid7(),
            "vendor_id": line.offer.vendor_id,
            "variant_id": line.offer.variant_id,
            "actor_id": buyer_id,
            "reason": CHECKOUT_REASON,
            "stock_before": after[line.offer.variant_id] + line.line.quantity,
            "stock_after": after[line.offer.variant_id],
            "delta": -line.line.quantity,
            "created_at": now,
        }
        for line in lines
    ]


async def _count_discounts(
    db: AsyncSession, buyer_id: uuid.UUID, used: dict[uuid.UUID, Discount]
) -> None:
    """Count one use of each discount the cart gets (``used``), within its limits."""
    if not used:
        return
    counted = await repository.use_discounts(db, {i: d.vendor_id for i, d in used.items()})
    limited = {i: d.vendor_id for i, d in used.items() if d.per_customer_limit is not None}
    redeemed = await repository.redemptions(db, buyer_id, limited) if limited else {}
    spent = sorted(
        str(i)
        for i, d in used.items()
        if i not in counted
        or (d.per_customer_limit is not None and redeemed.get(i, 0) >= d.per_customer_limit)
    )
    if spent:
        raise DiscountExhausted(
            "A discount on this cart reached its usage limit; check your cart's prices again.",
            details={"discount_ids": spent},
        )


def _orders(
    group_id: uuid.UUID, buyer_id: uuid.UUID, lines: Sequence[PricedLine]
) -> tuple[list[Values], list[Values]]:
    """The store orders and their line snapshots, as the columns to insert."""
    by_store: dict[uuid.UUID, list[PricedLine]] = defaultdict(list)
    for line in lines:
        by_store[line.offer.vendor_id].append(line)
    orders: list[Values] = []
    snapshots: list[Values] = []
    for vendor_id, store_lines in by_store.items():
        order_id = uuid7()
        orders.append(
            {
                "id": order_id,
                "vendor_id": vendor_id,
                "group_id": group_id,
                "buyer_id": buyer_id,
                "status": str(OrderStatus.pending),
                "currency": store_lines[0].offer.currency,
                "subtotal": sum(line.line.quantity * line.offer.price for line in store_lines),
                "discount_total": sum(
                    line.line.quantity * line.unit_discount for line in store_lines
                ),
                "total": sum(line.line_total for line in store_lines),
                "refunded_amount": 0,
            }
        )
        snapshots.extend(
            {
                "id": uuid7(),
                "vendor_id": vendor_id,
                "order_id": order_id,
                "product_id": line.offer.product_id,
                "variant_id": line.offer.variant_id,
                "title": line.offer.title,
                "sku": line.offer.sku,
                "options": dict(line.offer.options),
                "quantity": line.line.quantity,
                "unit_price": line.offer.price,
                "unit_discount": line.unit_discount,
                "tax": 0,
                "line_total": line.line_total,
                "discount_id": line.applied[0].id if line.applied else None,
                "returned_quantity": 0,
            }
            for line in store_lines
        )
    return orders, snapshots


def _first_out(group: Values, orders: Sequence[Values], lines: Sequence[Values]) -> CheckoutOut:
    """:func:`_out` of the rows this checkout just wrote, from the values it wrote (the same
    answer a replay builds from the database). Built with ``model_construct``: the values are
    typed already, and the route's ``response_model`` serialises them."""
    fields = tuple(OrderLineOut.model_fields)
    by_order: dict[uuid.UUID, list[OrderLineOut]] = defaultdict(list)
    for line in sorted(lines, key=lambda ln: (ln["sku"], ln["id"])):
        out = OrderLineOut.model_construct(**{name: line[name] for name in fields})
        by_order[line["order_id"]].append(out)
    return CheckoutOut.model_construct(
        order_group_id=group["id"],
        status=group["status"],
        subtotal=group["subtotal"],
        discount_total=group["discount_total"],
        total=group["total"],
        currency=group["currency"],
        expires_at=group["expires_at"],
        orders=[
            StoreOrderOut.model_construct(
                id=o["id"],
                vendor_id=o["vendor_id"],
                status=o["status"],
                subtotal=o["subtotal"],
                discount_total=o["discount_total"],
                total=o["total"],
                lines=by_order[o["id"]],
            )
            for o in sorted(orders, key=lambda o: o["id"])
        ],
        payment=PaymentOut.model_construct(
            provider=group["provider"],
            reference=group["payment_reference"],
            authorization_url=group["authorization_url"],
        ),
    )


async def _replay(db: AsyncSession, group: OrderGroup, fingerprint: str) -> CheckoutOut:
    payment = (
        await billing_repository.payment_by_reference(db, group.payment_reference)
        if group.payment_reference
        else None
    )
    if payment is not None and payment.request_hash not in (None, fingerprint):
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different checkout."
        )
    orders = await repository.group_orders(db, group.id)
    return _out(group, orders, await repository.group_lines(db, orders))


def _out(
    group: OrderGroup, orders: Sequence[StoreOrder], lines: Sequence[OrderLine]
) -> CheckoutOut:
    # One order for the first answer and its replays: orders by id, lines by SKU.
    by_order: dict[uuid.UUID, list[OrderLineOut]] = defaultdict(list)
    for line in sorted(lines, key=lambda ln: (ln.sku, ln.id)):
        by_order[line.order_id].append(OrderLineOut.model_validate(line, from_attributes=True))
    assert group.payment_reference is not None
    assert group.authorization_url is not None
    return CheckoutOut(
        order_group_id=group.id,
        status=group.status,
        subtotal=group.subtotal,
        discount_total=group.discount_total,
        total=group.total,
        currency=group.currency,
        expires_at=group.expires_at,
        orders=[
            StoreOrderOut(
                id=o.id,
                vendor_id=o.vendor_id,
                status=o.status,
                subtotal=o.subtotal,
                discount_total=o.discount_total,
                total=o.total,
                lines=by_order[o.id],
            )
            for o in sorted(orders, key=lambda o: o.id)
        ],
        payment=PaymentOut(
            provider=group.provider,
            reference=group.payment_reference,
            authorization_url=group.authorization_url,
        ),
    )
