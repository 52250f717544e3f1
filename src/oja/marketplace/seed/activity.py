"""What the generated buyers did: orders in every state, returns, refunds, reviews, behaviour."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from oja.marketplace.checkout.service import CHECKOUT_REASON
from oja.marketplace.orders.models import (
    GroupStatus,
    OrderGroup,
    OrderLine,
    OrderRefund,
    OrderStatus,
    OrderTransition,
    RefundSource,
    RefundStatus,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
    StoreOrder,
)
from oja.marketplace.orders.returns import RECEIVED_STOCK_REASON
from oja.marketplace.orders.service import CANCELED_STOCK_REASON
from oja.marketplace.recommendations.models import BehaviourEvent, BehaviourKind
from oja.marketplace.reviews.models import Review, ReviewStatus, ReviewSubject, ReviewSummary
from oja.marketplace.seed import words
from oja.marketplace.seed.plan import (
    FATES,
    PROVIDER,
    UNPAID_SHARE,
    Builder,
    Plan,
    RefundToBook,
    SeedConfig,
)

# The path each fate walks from pending, and the fraction of the order's age each step happens at.
PATHS: dict[OrderStatus, list[OrderStatus]] = {
    OrderStatus.pending: [],
    OrderStatus.confirmed: [OrderStatus.confirmed],
    OrderStatus.shipped: [OrderStatus.confirmed, OrderStatus.shipped],
    OrderStatus.delivered: [OrderStatus.confirmed, OrderStatus.shipped, OrderStatus.delivered],
    OrderStatus.canceled: [OrderStatus.confirmed, OrderStatus.canceled],
    OrderStatus.returned: [
        OrderStatus.confirmed,
        OrderStatus.shipped,
        OrderStatus.delivered,
        OrderStatus.returned,
    ],
}
STEP_AT = {
    OrderStatus.confirmed: 0.02,
    OrderStatus.canceled: 0.2,
    OrderStatus.shipped: 0.3,
    OrderStatus.delivered: 0.6,
    OrderStatus.returned: 0.9,
}
STAMP = {
    OrderStatus.confirmed: "confirmed_at",
    OrderStatus.shipped: "shipped_at",
    OrderStatus.delivered: "delivered_at",
    OrderStatus.canceled: "canceled_at",
}
FIRST_FATES = [OrderStatus.pending, *(fate for fate, _ in FATES)]


class Shopping:
    def __init__(self, builder: Builder, buyers: list[uuid.UUID]) -> None:
        self.b = builder
        self.rng = builder.rng
        self.buyers = buyers
        self.stores = [v for v, variants in builder.variants_of.items() if variants]
        self.delivered_lines: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.delivered_orders: list[dict[str, Any]] = []

    def at(self, placed: datetime, fraction: float) -> datetime:
        return placed + (self.b.now - placed) * fraction

    def orders(self, groups: int) -> None:
        if not self.stores:
            return
        times = sorted(self.b.ago(0.05, 60) for _ in range(groups))
        for g, drawn in enumerate(times):
            fate = FIRST_FATES[g] if g < len(FIRST_FATES) else None
            unpaid = fate == OrderStatus.pending or (
                fate is None and self.rng.random() < UNPAID_SHARE
            )
            # Unpaid: a checkout of the last minutes, its reservation still running.
            recent = self.b.now - timedelta(minutes=self.rng.uniform(0.5, 5)) if unpaid else None
            self.group(g, recent or drawn, unpaid, fate)

    def group(self, g: int, placed: datetime, unpaid: bool, fate: OrderStatus | None) -> None:
        b, rng = self.b, self.rng
        buyer = self.buyers[rng.randrange(len(self.buyers))]
        group_id = b.id("group", g)
        stores = rng.sample(self.stores, min(len(self.stores), rng.choice((1, 1, 1, 2))))
        baskets = [(v, self.basket(v)) for v in stores]
        baskets = [(v, lines) for v, lines in baskets if lines]
        if not baskets:
            return
        reference = f"seed{b.config.seed}-{g:06d}"
        total = sum(q * v.price for _, lines in baskets for v, q in lines)
        paid_at = None if unpaid else self.at(placed, STEP_AT[OrderStatus.confirmed])
        b.plan.add(
            OrderGroup,
            {
                "id": group_id,
                "buyer_id": buyer,
                "status": str(GroupStatus.awaiting_payment if unpaid else GroupStatus.paid),
                "currency": b.config.currency,
                "subtotal": total,
                "discount_total": 0,
                "total": total,
                "shipping_address": {
                    "name": rng.choice(words.FIRST_NAMES),
                    "line1": f"{rng.randrange(1, 300)} {rng.choice(words.STREETS)}",
                    "city": rng.choice(words.CITIES),
                    "country": "NG",
                },
                "provider": PROVIDER,
                "payment_reference": reference,
                "idempotency_key": f"seed-{g}",
                "expires_at": placed + timedelta(minutes=b.config.reservation_minutes),
                "paid_at": paid_at,
                "created_at": placed,
                "updated_at": paid_at or placed,
            },
        )
        if not unpaid:
            b.plan.payments.append(reference)
        for n, (vendor_id, lines) in enumerate(baskets):
            status = OrderStatus.pending if unpaid else fate or self.fate()
            self.store_order(g, n, group_id, buyer, vendor_id, lines, placed, status)
            if n == 0:
                fate = None  # only the first store walks the forced fate

    def fate(self) -> OrderStatus:
        return self.rng.choices([f for f, _ in FATES], weights=[w for _, w in FATES])[0]

    def basket(self, vendor_id: uuid.UUID) -> list[tuple[Any, int]]:
        lines: dict[uuid.UUID, tuple[Any, int]] = {}
        for _ in range(self.rng.choice((1, 1, 2))):
            variant = self.rng.choice(self.b.variants_of[vendor_id])
            quantity = min(self.rng.choice((1, 1, 2)), variant.available)
            if quantity and variant.id not in lines:
                variant.available -= quantity
                lines[variant.id] = (variant, quantity)
        return list(lines.values())

    def store_order(  # noqa: PLR0917
        self,
        g: int,
        n: int,
        group_id: uuid.UUID,
        buyer: uuid.UUID,
        vendor_id: uuid.UUID,
        lines: list[tuple[Any, int]],
        placed: datetime,
        status: OrderStatus,
    ) -> None:
        b, rng = self.b, self.rng
        order_id = b.id("order", f"{g}/{n}")
        total = sum(q * v.price for v, q in lines)
        order = b.plan.add(
            StoreOrder,
            {
                "id": order_id,
                "vendor_id": vendor_id,
                "group_id": group_id,
                "buyer_id": buyer,
                "status": str(status),
                "currency": b.config.currency,
                "subtotal": total,
                "discount_total": 0,
                "total": total,
                "refunded_amount": 0,
                "created_at": placed,
                "updated_at": placed,
            },
        )
        order_lines = []
        for i, (variant, quantity) in enumerate(lines):
            order_lines.append(
                b.plan.add(
                    OrderLine,
                    {
                        "id": b.id("line", f"{g}/{n}/{i}"),
                        "vendor_id": vendor_id,
                        "order_id": order_id,
                        "product_id": variant.product_id,
                        "variant_id": variant.id,
                        "title": variant.title,
                        "sku": variant.sku,
                        "options": variant.options,
                        "quantity": quantity,
                        "unit_price": variant.price,
                        "unit_discount": 0,
                        "tax": 0,
                        "line_total": quantity * variant.price,
                        "returned_quantity": 0,
                    },
                )
            )
            b.move(vendor_id, variant.id, -quantity, CHECKOUT_REASON, placed)
            self.event(BehaviourKind.cart, buyer, variant.product_id, placed - timedelta(minutes=3))
            if status != OrderStatus.pending:
                self.event(
                    BehaviourKind.purchase, buyer, variant.product_id, placed, group_id=group_id
                )
        self.transition(order, None, OrderStatus.pending, placed, "checkout")
        before = OrderStatus.pending
        for step in PATHS[status]:
            at = self.at(placed, STEP_AT[step])
            self.transition(order, before, step, at, None)
            if step in STAMP:
                order[STAMP[step]] = at
            order["updated_at"] = at
            before = step
        if status in {OrderStatus.shipped, OrderStatus.delivered, OrderStatus.returned}:
            order["carrier"] = rng.choice(("GIG Logistics", "DHL", "Kwik"))
            order["tracking_number"] = f"TRK{rng.randrange(10**9, 10**10)}"
        if status == OrderStatus.canceled:
            self.cancel(order, order_lines)
        elif status == OrderStatus.returned:
            self.give_back(order, order_lines, placed)
        elif status == OrderStatus.delivered:
            self.delivered_orders.append(order)
            self.delivered_lines.extend((order, line) for line in order_lines)

    def transition(
        self,
        order: dict[str, Any],
        before: OrderStatus | None,
        after: OrderStatus,
        at: datetime,
        note: str | None,
    ) -> None:
        b = self.b
        b.plan.add(
            OrderTransition,
            {
                "id": b.id("transition", f"{order['id']}/{after}"),
                "vendor_id": order["vendor_id"],
                "order_id": order["id"],
                "from_status": None if before is None else str(before),
                "to_status": str(after),
                "actor_id": order["buyer_id"] if before is None else None,
                "note": note,
                "created_at": at,
            },
        )

    def cancel(self, order: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        at = order["canceled_at"]
        order["cancel_reason"] = "seeded: the buyer changed their mind"
        for line in lines:
            self.b.move(
                order["vendor_id"], line["variant_id"], line["quantity"], CANCELED_STOCK_REASON, at
            )
        self.refund(order, RefundSource.cancellation, order["id"], order["total"], at)

    def give_back(
        self, order: dict[str, Any], lines: list[dict[str, Any]], placed: datetime
    ) -> None:
        """Every line returned and received into stock, then refunded."""
        b = self.b
        received = self.at(placed, STEP_AT[OrderStatus.returned])
        return_id = b.id("return", order["id"])
        b.plan.add(
            ReturnRequest,
            {
                "id": return_id,
                "vendor_id": order["vendor_id"],
                "order_id": order["id"],
                "buyer_id": order["buyer_id"],
                "status": str(ReturnStatus.received),
                "reason": "seeded: not the size I expected",
                "photos": [],
                "decision_note": "approved",
                "decided_at": received - timedelta(hours=20),
                "received_at": received,
                "created_at": received - timedelta(days=1),
                "updated_at": received,
            },
        )
        for line in lines:
            line["returned_quantity"] = line["quantity"]
            b.plan.add(
                ReturnLine,
                {
                    "id": b.id("return_line", line["id"]),
                    "vendor_id": order["vendor_id"],
                    "return_id": return_id,
                    "order_line_id": line["id"],
                    "quantity": line["quantity"],
                    "amount": line["line_total"],
                    "restock": True,
                },
            )
            b.move(
                order["vendor_id"],
                line["variant_id"],
                line["quantity"],
                RECEIVED_STOCK_REASON,
                received,
            )
        self.refund(order, RefundSource.return_, return_id, order["total"], received)

    def refund(
        self,
        order: dict[str, Any],
        source: RefundSource,
        source_id: uuid.UUID,
        amount: int,
        at: datetime,
    ) -> None:
        b = self.b
        refund_id = b.id("refund", order["id"])
        order["refunded_amount"] = amount
        b.plan.add(
            OrderRefund,
            {
                "id": refund_id,
                "vendor_id": order["vendor_id"],
                "order_id": order["id"],
                "group_id": order["group_id"],
                "source": str(source),
                "source_id": source_id,
                "amount": amount,
                "currency": b.config.currency,
                "status": str(RefundStatus.processed),
                "provider": PROVIDER,
                "provider_refund_id": f"seed-rf-{refund_id.hex[:16]}",
                "processed_at": at + timedelta(hours=1),
                "created_at": at,
                "updated_at": at + timedelta(hours=1),
            },
        )
        b.plan.refunds.append(
            RefundToBook(refund_id, order["vendor_id"], order["id"], str(source), source_id, amount)
        )

    # --- reviews and behaviour ---------------------------------------------------------------

    def reviews(self) -> None:
        b, rng = self.b, self.rng
        counted: dict[uuid.UUID, dict[str, Any]] = {}
        for order, line in self.delivered_lines:
            if rng.random() < 0.6:
                self.review(ReviewSubject.product, line["product_id"], line["id"], order, counted)
        for order in self.delivered_orders:
            if rng.random() < 0.4:
                self.review(ReviewSubject.store, order["vendor_id"], order["id"], order, counted)
        for subject_id, summary in sorted(counted.items()):
            b.plan.add(ReviewSummary, {"subject_id": subject_id, **summary})

    def review(
        self,
        subject: ReviewSubject,
        subject_id: uuid.UUID,
        source_id: uuid.UUID,
        order: dict[str, Any],
        counted: dict[uuid.UUID, dict[str, Any]],
    ) -> None:
        b, rng = self.b, self.rng
        rating = words.rating(rng)
        held = rng.random() < 0.05  # in the moderation queue: not counted
        at = self.at(order["delivered_at"], 0.3)
        b.plan.add(
            Review,
            {
                "id": b.id("review", f"{subject}/{source_id}"),
                "vendor_id": order["vendor_id"],
                "subject": str(subject),
                "subject_id": subject_id,
                "source_id": source_id,
                "author_id": order["buyer_id"],
                "rating": rating,
                "title": rng.choice(words.REVIEW_TITLES[rating]),
                "body": words.REVIEW_BODIES[rating],
                "photos": [],
                "photo_count": 0,
                "verified": True,
                "status": str(ReviewStatus.pending if held else ReviewStatus.published),
                "screening": "seeded: held for moderation" if held else None,
                "helpful_count": 0,
                "open_flags": 0,
                "created_at": at,
                "updated_at": at,
            },
        )
        if held:
            return
        summary = counted.setdefault(
            subject_id,
            {"subject": str(subject), "count": 0, "total": 0} | {f"r{r}": 0 for r in range(1, 6)},
        )
        summary["count"] += 1
        summary["total"] += rating
        summary[f"r{rating}"] += 1

    def event(
        self,
        kind: BehaviourKind,
        subject: uuid.UUID | str,
        product_id: uuid.UUID | None,
        at: datetime,
        *,
        group_id: uuid.UUID | None = None,
        query: str | None = None,
    ) -> None:
        b = self.b
        b.plan.add(
            BehaviourEvent,
            {
                "id": b.id("event", b.plan.count(BehaviourEvent)),
                "kind": str(kind),
                "subject": str(subject),
                "product_id": product_id,
                "group_id": group_id,
                "query": query,
                "created_at": at,
            },
        )

    def browsing(self, products: list[uuid.UUID]) -> None:
        """Views and searches of the buyers, and of anonymous browsers (``c:<client id>``)."""
        if not products:
            return
        rng = self.rng
        visitors: list[uuid.UUID | str] = list(self.buyers)
        visitors += [f"c:seed{self.b.config.seed}v{i:05d}" for i in range(len(self.buyers) // 4)]
        for visitor in visitors:
            for _ in range(rng.randrange(2, 12)):
                self.event(BehaviourKind.view, visitor, rng.choice(products), self.b.ago(0, 60))
            if rng.random() < 0.3:
                query = rng.choice(words.SEARCHES)
                self.event(BehaviourKind.search, visitor, None, self.b.ago(0, 60), query=query)


def shop(builder: Builder, buyers: list[uuid.UUID], groups: int) -> None:
    shopping = Shopping(builder, buyers)
    shopping.orders(groups)
    shopping.reviews()
    active = defaultdict(list)
    for variants in builder.variants_of.values():
        for variant in variants:
            active[variant.product_id].append(variant)
    shopping.browsing(sorted(active))


def build(config: SeedConfig, password_hash: str) -> Plan:
    """Every row of the seeded marketplace (no database needed)."""
    builder = Builder(config, password_hash)
    leaves = builder.categories()
    stores = builder.stores()
    buyers = [
        builder.user(
            "buyer", i, f"{builder.rng.choice(words.FIRST_NAMES)} {i}", builder.ago(90, 400)
        )
        for i in range(config.buyers)
    ]
    builder.catalogue(stores, leaves, builder.pictures(stores))
    shop(builder, buyers, groups=config.buyers)
    builder.stock_rows()
    return builder.plan
