"""Marketplace rows for the operator-UI tests: stores opened through the API, and orders, returns,
refunds, reviews and deliveries written as the services would have left them (the views only read
them; what the views change goes through the services and is asserted from the database)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from oja.core.clock import utcnow
from oja.core.db import Database, unit_of_work
from oja.marketplace.catalog.models import Product
from oja.marketplace.orders.models import (
    OrderGroup,
    OrderLine,
    OrderRefund,
    OrderTransition,
    ReturnRequest,
    StoreOrder,
)
from oja.marketplace.reviews.models import Review, ReviewSummary
from oja.notifications.models import Notification, NotificationDelivery
from tests.marketplace.conftest import Person, open_store, person


def database_of(target: Any) -> Database:
    """The database of an app, or the database itself (the browser tests have no app in-process)."""
    return target if isinstance(target, Database) else target.state.runtime.database


async def store(client: httpx.AsyncClient, name: str) -> tuple[Person, uuid.UUID]:
    """A pending store opened through the API by a new user: (its owner, its id)."""
    owner = await person(client, "owner")
    opened = await open_store(client, owner, name)
    return owner, uuid.UUID(opened["id"])


async def get(app: Any, model: Any, pk: Any) -> Any:
    async with database_of(app).sessionmaker() as db:
        return await db.get(model, pk)


async def all_of(app: Any, query: Any) -> list[Any]:
    async with database_of(app).sessionmaker() as db:
        return list((await db.scalars(query)).all())


async def add_product(
    app: Any, vendor_id: uuid.UUID, title: str, status: str = "active"
) -> uuid.UUID:
    row = Product(vendor_id=vendor_id, title=title, status=status, attributes={})
    async with unit_of_work(database_of(app)) as db:
        db.add(row)
    return row.id


async def add_order(
    app: Any, vendor_id: uuid.UUID, buyer_id: str, *, refund: int | None = None
) -> dict[str, uuid.UUID]:
    """A delivered store order of two units at NGN 12,500.50, its three transitions, a return of
    one unit and, with ``refund``, the refund of that return."""
    now = utcnow()
    buyer = uuid.UUID(buyer_id)
    async with unit_of_work(database_of(app)) as db:
        group = OrderGroup(
            buyer_id=buyer,
            status="paid",
            currency="NGN",
            subtotal=2500100,
            total=2500100,
            provider="paystack",
            expires_at=now + timedelta(hours=1),
            paid_at=now,
        )
        db.add(group)
        await db.flush()
        order = StoreOrder(
            group_id=group.id,
            vendor_id=vendor_id,
            buyer_id=buyer,
            status="delivered",
            currency="NGN",
            subtotal=2500100,
            total=2500100,
            refunded_amount=refund or 0,
            carrier="GIG Logistics",
            tracking_number="GIG-777",
        )
        db.add(order)
        await db.flush()
        db.add(
            OrderLine(
                vendor_id=vendor_id,
                order_id=order.id,
                title="Ankara tote bag",
                sku="TOTE-1",
                quantity=2,
                unit_price=1250050,
                line_total=2500100,
                returned_quantity=1,
            )
        )
        steps = [(None, "pending"), ("pending", "confirmed"), ("confirmed", "shipped")]
        steps.append(("shipped", "delivered"))
        for minutes, (before, after) in enumerate(steps):
            db.add(
                OrderTransition(
                    vendor_id=vendor_id,
                    order_id=order.id,
                    from_status=before,
                    to_status=after,
                    note="left at the gate" if after == "delivered" else None,
                    created_at=now - timedelta(minutes=10 - minutes),
                )
            )
        request = ReturnRequest(
            vendor_id=vendor_id,
            order_id=order.id,
            buyer_id=buyer,
            status="received",
            reason="The strap tore on the first day.",
            photos=[],
        )
        db.add(request)
        await db.flush()
        ids = {"group": group.id, "order": order.id, "return": request.id}
        if refund is not None:
            row = OrderRefund(
                vendor_id=vendor_id,
                order_id=order.id,
                group_id=group.id,
                source="return",
                source_id=request.id,
                amount=refund,
                currency="NGN",
                provider="paystack",
                status="failed",
                failure_reason="The card was closed.",
            )
            db.add(row)
            await db.flush()
            ids["refund"] = row.id
    return ids


async def add_review(
    app: Any,
    vendor_id: uuid.UUID,
    author_id: str,
    title: str,
    *,
    status: str = "pending",
    open_flags: int = 0,
    rating: int = 4,
) -> uuid.UUID:
    """A product review; a published one is counted in its product's summary, as the service
    counts it."""
    product_id = await add_product(app, vendor_id, f"Product of {title}")
    row = Review(
        vendor_id=vendor_id,
        subject="product",
        subject_id=product_id,
        source_id=uuid.uuid4(),
        author_id=uuid.UUID(author_id),
        rating=rating,
        title=title,
        body=f"{title}: the body.",
        photos=[],
        status=status,
        open_flags=open_flags,
        screening="held: a link" if status == "pending" else None,
    )
    async with unit_of_work(database_of(app)) as db:
        db.add(row)
        if status == "published":
            counts = {f"r{r}": int(r == rating) for r in range(1, 6)}
            db.add(
                ReviewSummary(
                    subject_id=product_id, subject="product", count=1, total=rating, **counts
                )
            )
    return row.id


async def summary_count(app: Any, review_id: uuid.UUID) -> int:
    review = await get(app, Review, review_id)
    summary = await get(app, ReviewSummary, review.subject_id)
    return 0 if summary is None else int(summary.count)


async def add_delivery(app: Any, user_id: str, status: str, address: str) -> uuid.UUID:
    async with unit_of_work(database_of(app)) as db:
        note = Notification(
            user_id=uuid.UUID(user_id),
            event_id=uuid.uuid4(),
            event="order.shipped",
            category="orders",
            title="Your order is on its way",
            body="Order OJA-1 has shipped.",
            data={},
        )
        db.add(note)
        await db.flush()
        row = NotificationDelivery(
            notification_id=note.id,
            channel="sms",
            status=status,
            address=address,
            body="Order OJA-1 has shipped.",
            attempts=3,
            provider="termii",
            last_error="ApplicationError: the number is not on the network"
            if status == "failed"
            else None,
        )
        db.add(row)
    return row.id
