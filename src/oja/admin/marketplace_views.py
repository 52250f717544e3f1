"""The marketplace for operators: stores (approve, reject, suspend, payout hold and release),
payouts (retry, OTP finalize), disputes (evidence), products, store orders with their
transition history, returns, refunds, the reviews moderation queue, and each store's plan and traffic.

Every change goes through the module's own service (by way of :mod:`oja.admin.operations`), the one
the ``/admin/...`` JSON routes call, so its rules, records and log lines are the same. Amounts are
integer minor units, shown as money.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from sqladmin import action, expose
from sqladmin.filters import StaticValuesFilter
from sqlalchemy import Select, and_, or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from oja.admin import operations
from oja.admin.base import (
    LinkingView,
    ask_reason,
    back_to_list,
    operator_id,
    reason_of,
    refuse_cross_site,
    runtime_of,
    selected_ids,
    values_filter,
)
from oja.admin.forms import FormField, ask_form, submit_form
from oja.billing.config import BillingSettings
from oja.core.db import read_only
from oja.marketplace.catalog.models import Product
from oja.marketplace.ledger.models import Dispute
from oja.marketplace.ledger.schemas import EvidenceIn
from oja.marketplace.orders import repository as order_repository
from oja.marketplace.orders.models import (
    OrderLine,
    OrderRefund,
    OrderTransition,
    ReturnRequest,
    StoreOrder,
)
from oja.marketplace.payouts.models import Payout
from oja.marketplace.payouts.schemas import FinalizeIn
from oja.marketplace.plans import service as plan_service
from oja.marketplace.plans.schemas import SubscriptionOut
from oja.marketplace.reviews.models import Review, ReviewStatus
from oja.marketplace.reviews.schemas import QueueStatus
from oja.marketplace.vendors.models import Vendor, VendorAction, VendorStatusChange
from oja.notifications.templates import money

VENDOR = "vendor"
ORDER = "store-order"
PRODUCT = "product"
HISTORY = "history"
"""A computed details row: the status changes of a store, oldest first."""


def _money(column: str) -> Any:
    def format_amount(row: Any, _: Any) -> str:
        return money(getattr(row, column), row.currency)

    return format_amount


def _outcome(
    view: LinkingView, request: Request, done: str, changed: int, refused: list[str]
) -> RedirectResponse:
    message = f"{done} {changed} of {changed + len(refused)} selected."
    if refused:
        message += " " + " ".join(sorted(set(refused)))
    return back_to_list(view, request, message, ok=bool(changed))


class VendorView(LinkingView, model=Vendor):
    name = "Store"
    icon = "fa-solid fa-store"
    column_list: ClassVar[Any] = [
        Vendor.name,
        Vendor.slug,
        Vendor.status,
        Vendor.status_reason,
        Vendor.contact_email,
        Vendor.created_at,
    ]
    column_details_list: ClassVar[Any] = [
        Vendor.id,
        Vendor.name,
        Vendor.slug,
        Vendor.status,
        Vendor.status_reason,
        HISTORY,
        Vendor.description,
        Vendor.contact_email,
        Vendor.phone,
        Vendor.address,
        Vendor.created_at,
        Vendor.updated_at,
    ]
    column_labels: ClassVar[Any] = {
        Vendor.status_reason: "Reason",
        Vendor.contact_email: "Contact email",
        Vendor.created_at: "Opened",
        HISTORY: "Status history",
    }
    column_filters: ClassVar[Any] = [values_filter(Vendor.status)]
    column_searchable_list: ClassVar[Any] = [Vendor.name, Vendor.slug, Vendor.contact_email]
    column_sortable_list: ClassVar[Any] = [Vendor.name, Vendor.created_at, Vendor.status]
    column_default_sort: ClassVar[Any] = [(Vendor.created_at, True)]

    async def get_detail_value(
        self, obj: Any, prop: str, request: Request | None = None
    ) -> tuple[Any, Any]:
        if prop == HISTORY and request is not None:
            async with read_only(runtime_of(request).database) as db:
                changes = (
                    await db.scalars(
                        select(VendorStatusChange)
                        .where(VendorStatusChange.vendor_id == obj.id)
                        .order_by(VendorStatusChange.created_at, VendorStatusChange.id)
                    )
                ).all()
            lines = [
                f"{c.created_at:%Y-%m-%d %H:%M} {c.from_status} → {c.to_status}"
                + (f" ({c.reason})" if c.reason else "")
                for c in changes
            ]
            return lines, "; ".join(lines) or "—"
        return await super().get_detail_value(obj, prop, request)

    async def _decide(
        self, request: Request, ids: list[uuid.UUID], act: VendorAction, reason: str | None
    ) -> RedirectResponse:
        changed, refused = await operations.decide_vendors(
            runtime_of(request).database, ids, act, reason, actor_id=operator_id(request)
        )
        done = {"approve": "Approved", "reject": "Rejected", "suspend": "Suspended"}[act]
        return _outcome(self, request, done, changed, refused)

    @action("approve", "Approve", "Approve the selected stores? Their owners become vendors.")
    async def approve(self, request: Request) -> RedirectResponse:
        refuse_cross_site(request)
        return await self._decide(request, selected_ids(request), VendorAction.approve, None)

    @action("reject", "Reject…")
    async def reject(self, request: Request) -> Response:
        return await ask_reason(self, request, decide="decide_reject", verb="Reject")

    @action("suspend", "Suspend…")
    async def suspend(self, request: Request) -> Response:
        return await ask_reason(self, request, decide="decide_suspend", verb="Suspend")

    @expose("/decide/reject", methods=["POST"])
    async def decide_reject(self, request: Request) -> RedirectResponse:
        ids, reason = await reason_of(request)
        return await self._decide(request, ids, VendorAction.reject, reason)

    @expose("/decide/suspend", methods=["POST"])
    async def decide_suspend(self, request: Request) -> RedirectResponse:
        ids, reason = await reason_of(request)
        return await self._decide(request, ids, VendorAction.suspend, reason)

    @action("payout_hold", "Hold payouts…")
    async def payout_hold(self, request: Request) -> Response:
        return await ask_reason(self, request, decide="decide_payout_hold", verb="Hold payouts of")

    @action("payout_release", "Release payouts…")
    async def payout_release(self, request: Request) -> Response:
        return await ask_reason(
            self, request, decide="decide_payout_release", verb="Release payouts of"
        )

    async def _hold(self, request: Request, *, held: bool) -> RedirectResponse:
        ids, reason = await reason_of(request)
        if reason is None:
            return back_to_list(self, request, "A payout hold or release needs a reason.", ok=False)
        changed, refused = await operations.hold_payouts(
            runtime_of(request).database,
            ids,
            held=held,
            reason=reason,
            actor_id=operator_id(request),
        )
        done = "Held payouts of" if held else "Released payouts of"
        return _outcome(self, request, done, changed, refused)

    @expose("/decide/payout-hold", methods=["POST"])
    async def decide_payout_hold(self, request: Request) -> RedirectResponse:
        return await self._hold(request, held=True)

    @expose("/decide/payout-release", methods=["POST"])
    async def decide_payout_release(self, request: Request) -> RedirectResponse:
        return await self._hold(request, held=False)


class ProductView(LinkingView, model=Product):
    """Read-only: the catalogue has no operator path to hide a product yet."""

    name = "Product"
    icon = "fa-solid fa-box"
    column_list: ClassVar[Any] = [
        Product.title,
        Product.vendor_id,
        Product.status,
        Product.category_id,
        Product.created_at,
    ]
    column_details_list: ClassVar[Any] = [
        Product.id,
        Product.title,
        Product.vendor_id,
        Product.status,
        Product.category_id,
        Product.description,
        Product.attributes,
        Product.created_at,
        Product.updated_at,
    ]
    column_labels: ClassVar[Any] = {Product.vendor_id: "Store", Product.category_id: "Category"}
    column_links: ClassVar[dict[str, str]] = {"vendor_id": VENDOR}
    column_filters: ClassVar[Any] = [values_filter(Product.status)]
    column_searchable_list: ClassVar[Any] = [Product.title, Product.id]
    column_sortable_list: ClassVar[Any] = [Product.title, Product.created_at, Product.status]
    column_default_sort: ClassVar[Any] = [(Product.created_at, True)]


class StoreOrderView(LinkingView, model=StoreOrder):
    name = "Store order"
    icon = "fa-solid fa-receipt"
    details_template = "oja/order_details.html"
    column_list: ClassVar[Any] = [
        StoreOrder.id,
        StoreOrder.vendor_id,
        StoreOrder.status,
        StoreOrder.total,
        StoreOrder.refunded_amount,
        StoreOrder.buyer_id,
        StoreOrder.created_at,
    ]
    column_details_list: ClassVar[Any] = [
        StoreOrder.id,
        StoreOrder.group_id,
        StoreOrder.vendor_id,
        StoreOrder.buyer_id,
        StoreOrder.status,
        StoreOrder.subtotal,
        StoreOrder.discount_total,
        StoreOrder.total,
        StoreOrder.refunded_amount,
        StoreOrder.carrier,
        StoreOrder.tracking_number,
        StoreOrder.cancel_reason,
        StoreOrder.created_at,
        StoreOrder.confirmed_at,
        StoreOrder.shipped_at,
        StoreOrder.delivered_at,
        StoreOrder.canceled_at,
    ]
    column_labels: ClassVar[Any] = {
        StoreOrder.id: "Id",
        StoreOrder.group_id: "Checkout (order group)",
        StoreOrder.vendor_id: "Store",
        StoreOrder.buyer_id: "Buyer",
        StoreOrder.status: "Status",
        StoreOrder.subtotal: "Subtotal",
        StoreOrder.discount_total: "Discounts",
        StoreOrder.total: "Total",
        StoreOrder.refunded_amount: "Refunded",
        StoreOrder.carrier: "Carrier",
        StoreOrder.tracking_number: "Tracking number",
        StoreOrder.cancel_reason: "Cancel reason",
        StoreOrder.created_at: "Placed",
        StoreOrder.confirmed_at: "Confirmed",
        StoreOrder.shipped_at: "Shipped",
        StoreOrder.delivered_at: "Delivered",
        StoreOrder.canceled_at: "Canceled",
    }
    column_formatters: ClassVar[Any] = {
        StoreOrder.total: _money("total"),
        StoreOrder.refunded_amount: _money("refunded_amount"),
    }
    column_formatters_detail: ClassVar[Any] = {
        StoreOrder.subtotal: _money("subtotal"),
        StoreOrder.discount_total: _money("discount_total"),
        StoreOrder.total: _money("total"),
        StoreOrder.refunded_amount: _money("refunded_amount"),
    }
    column_links: ClassVar[dict[str, str]] = {"vendor_id": VENDOR}
    column_filters: ClassVar[Any] = [values_filter(StoreOrder.status)]
    column_searchable_list: ClassVar[Any] = [
        StoreOrder.id,
        StoreOrder.group_id,
        StoreOrder.tracking_number,
    ]
    column_sortable_list: ClassVar[Any] = [StoreOrder.created_at, StoreOrder.total]
    column_default_sort: ClassVar[Any] = [(StoreOrder.created_at, True)]

    async def story(
        self, request: Request, order: StoreOrder
    ) -> tuple[list[OrderLine], list[OrderTransition]]:
        """The order's lines and its status transitions, oldest first (for the details page)."""
        async with read_only(runtime_of(request).database) as db:
            lines = await order_repository.lines(db, order.vendor_id, order.id)
            history = await order_repository.transitions(db, order.vendor_id, order.id)
        return lines, history

    def money(self, amount: int, currency: str) -> str:
        return money(amount, currency)


class ReturnView(LinkingView, model=ReturnRequest):
    name = "Return"
    icon = "fa-solid fa-rotate-left"
    column_list: ClassVar[Any] = [
        ReturnRequest.order_id,
        ReturnRequest.vendor_id,
        ReturnRequest.status,
        ReturnRequest.reason,
        ReturnRequest.created_at,
        ReturnRequest.decided_at,
        ReturnRequest.received_at,
    ]
    column_labels: ClassVar[Any] = {
        ReturnRequest.order_id: "Order",
        ReturnRequest.vendor_id: "Store",
        ReturnRequest.created_at: "Requested",
    }
    column_details_exclude_list: ClassVar[Any] = [ReturnRequest.photos]
    column_links: ClassVar[dict[str, str]] = {"order_id": ORDER, "vendor_id": VENDOR}
    column_filters: ClassVar[Any] = [values_filter(ReturnRequest.status)]
    column_searchable_list: ClassVar[Any] = [ReturnRequest.order_id, ReturnRequest.reason]
    column_sortable_list: ClassVar[Any] = [ReturnRequest.created_at, ReturnRequest.status]
    column_default_sort: ClassVar[Any] = [(ReturnRequest.created_at, True)]


class RefundView(LinkingView, model=OrderRefund):
    name = "Refund"
    icon = "fa-solid fa-hand-holding-dollar"
    column_list: ClassVar[Any] = [
        OrderRefund.order_id,
        OrderRefund.vendor_id,
        OrderRefund.source,
        OrderRefund.amount,
        OrderRefund.status,
        OrderRefund.provider,
        OrderRefund.failure_reason,
        OrderRefund.created_at,
        OrderRefund.processed_at,
    ]
    column_labels: ClassVar[Any] = {
        OrderRefund.order_id: "Order",
        OrderRefund.vendor_id: "Store",
        OrderRefund.failure_reason: "Failure",
    }
    column_formatters: ClassVar[Any] = {OrderRefund.amount: _money("amount")}
    column_formatters_detail: ClassVar[Any] = {OrderRefund.amount: _money("amount")}
    column_links: ClassVar[dict[str, str]] = {"order_id": ORDER, "vendor_id": VENDOR}
    column_filters: ClassVar[Any] = [
        values_filter(OrderRefund.status),
        values_filter(OrderRefund.source),
    ]
    column_searchable_list: ClassVar[Any] = [OrderRefund.order_id, OrderRefund.provider_refund_id]
    column_sortable_list: ClassVar[Any] = [OrderRefund.created_at, OrderRefund.amount]
    column_default_sort: ClassVar[Any] = [(OrderRefund.created_at, True)]


OTP_FIELDS = [FormField("otp", "OTP sent to the business's phone", max_length=8)]
EVIDENCE_FIELDS = [
    FormField("customer_email", "Customer email", kind="email", max_length=320),
    FormField("customer_name", "Customer name", max_length=200),
    FormField("customer_phone", "Customer phone", kind="tel", max_length=20),
    FormField("service_details", "What was sold and delivered", kind="textarea", max_length=2000),
    FormField("delivery_address", "Delivery address", required=False),
    FormField("delivery_date", "Delivery date", kind="date", required=False, max_length=10),
]


class PayoutView(LinkingView, model=Payout):
    """Payouts: retry failed ones and finalize one waiting for its OTP, through the payouts service
    (as ``POST /admin/payouts/{id}/retry`` and ``/finalize``). Store holds are on the store page."""

    name = "Payout"
    icon = "fa-solid fa-building-columns"
    column_list: ClassVar[Any] = [
        Payout.vendor_id,
        Payout.reference,
        Payout.amount,
        Payout.status,
        Payout.provider,
        Payout.failure_reason,
        Payout.created_at,
        Payout.settled_at,
    ]
    column_labels: ClassVar[Any] = {Payout.vendor_id: "Store", Payout.failure_reason: "Failure"}
    column_formatters: ClassVar[Any] = {Payout.amount: _money("amount")}
    column_formatters_detail: ClassVar[Any] = {Payout.amount: _money("amount")}
    column_links: ClassVar[dict[str, str]] = {"vendor_id": VENDOR}
    column_filters: ClassVar[Any] = [values_filter(Payout.status)]
    column_searchable_list: ClassVar[Any] = [Payout.reference, Payout.transfer_code]
    column_sortable_list: ClassVar[Any] = [Payout.created_at, Payout.amount, Payout.status]
    column_default_sort: ClassVar[Any] = [(Payout.created_at, True)]

    @action("retry", "Retry", "Retry the selected failed payouts, each under a new reference?")
    async def retry(self, request: Request) -> RedirectResponse:
        refuse_cross_site(request)
        changed, refused = await operations.retry_payouts(
            runtime_of(request).database, selected_ids(request), actor_id=operator_id(request)
        )
        return _outcome(self, request, "Retried", changed, refused)

    @action("finalize", "Finalize with OTP…")
    async def finalize(self, request: Request) -> Response:
        return await ask_form(
            self,
            request,
            decide="decide_finalize",
            verb="Finalize",
            what="payout waiting for its OTP",
            fields=OTP_FIELDS,
        )

    @expose("/decide/finalize", methods=["POST"])
    async def decide_finalize(self, request: Request) -> RedirectResponse:
        runtime = runtime_of(request)

        async def finalize(pk: uuid.UUID, given: FinalizeIn) -> str:
            payout = await operations.finalize_payout(
                runtime.database,
                pk,
                given.otp,
                runtime.settings.section(BillingSettings),
                actor_id=operator_id(request),
            )
            return f"Finalized: the payout is {payout.status}."

        return await submit_form(
            self, request, FinalizeIn, OTP_FIELDS, refused="Not finalized", act=finalize
        )


class DisputeView(LinkingView, model=Dispute):
    """Payment disputes; evidence for an open one goes to the provider through the disputes service
    (as ``POST /admin/disputes/{id}/evidence``)."""

    name = "Dispute"
    icon = "fa-solid fa-scale-balanced"
    column_list: ClassVar[Any] = [
        Dispute.reference,
        Dispute.provider,
        Dispute.status,
        Dispute.provider_status,
        Dispute.resolution,
        Dispute.amount,
        Dispute.due_at,
        Dispute.created_at,
        Dispute.resolved_at,
    ]
    column_formatters: ClassVar[Any] = {Dispute.amount: _money("amount")}
    column_formatters_detail: ClassVar[Any] = {Dispute.amount: _money("amount")}
    column_filters: ClassVar[Any] = [values_filter(Dispute.status)]
    column_searchable_list: ClassVar[Any] = [Dispute.reference, Dispute.provider_dispute_id]
    column_sortable_list: ClassVar[Any] = [Dispute.created_at, Dispute.amount, Dispute.status]
    column_default_sort: ClassVar[Any] = [(Dispute.created_at, True)]

    @action("evidence", "Send evidence…")
    async def evidence(self, request: Request) -> Response:
        return await ask_form(
            self,
            request,
            decide="decide_evidence",
            verb="Send evidence",
            what="open dispute",
            fields=EVIDENCE_FIELDS,
        )

    @expose("/decide/evidence", methods=["POST"])
    async def decide_evidence(self, request: Request) -> RedirectResponse:
        runtime = runtime_of(request)

        async def send(pk: uuid.UUID, given: EvidenceIn) -> str:
            settings = runtime.settings.section(BillingSettings)
            await operations.submit_dispute_evidence(runtime.database, pk, given, settings)
            return "Evidence sent to the provider."

        return await submit_form(
            self, request, EvidenceIn, EVIDENCE_FIELDS, refused="Evidence not sent", act=send
        )


def _queue(status: QueueStatus | None) -> Any:
    """The moderation queue of ``GET /admin/reviews`` (reviews ``service.queue``): pending reviews,
    and flagged ones not hidden yet; one of the two when ``status`` says which."""
    flagged = and_(Review.open_flags > 0, Review.status != ReviewStatus.hidden)
    pending = Review.status == ReviewStatus.pending
    if status == QueueStatus.flagged:
        return flagged
    if status == QueueStatus.pending:
        return pending
    return or_(flagged, pending)


class QueueFilter(StaticValuesFilter):
    def __init__(self) -> None:
        super().__init__(
            Review.status,
            values=[(s.value, s.value.title()) for s in QueueStatus],
            title="Queue",
            parameter_name="queue",
        )

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value not in {s.value for s in QueueStatus}:
            return query
        return query.where(_queue(QueueStatus(value)))


class ReviewQueueView(LinkingView, model=Review):
    """Reviews waiting for a moderator, oldest first; publishing or hiding one takes a reason."""

    name = "Review to moderate"
    name_plural = "Reviews to moderate"
    icon = "fa-solid fa-flag"
    column_list: ClassVar[Any] = [
        Review.title,
        Review.rating,
        Review.status,
        Review.open_flags,
        Review.screening,
        Review.subject,
        Review.vendor_id,
        Review.created_at,
    ]
    column_details_list: ClassVar[Any] = [
        Review.id,
        Review.title,
        Review.body,
        Review.rating,
        Review.status,
        Review.open_flags,
        Review.screening,
        Review.subject,
        Review.subject_id,
        Review.vendor_id,
        Review.author_id,
        Review.verified,
        Review.helpful_count,
        Review.reply,
        Review.created_at,
        Review.updated_at,
    ]
    column_labels: ClassVar[Any] = {
        Review.open_flags: "Open flags",
        Review.vendor_id: "Store",
        Review.created_at: "Written",
    }
    column_links: ClassVar[dict[str, str]] = {"vendor_id": VENDOR}
    column_filters: ClassVar[Any] = [QueueFilter(), values_filter(Review.subject)]
    column_searchable_list: ClassVar[Any] = [Review.title, Review.body]
    column_sortable_list: ClassVar[Any] = [Review.created_at, Review.rating, Review.open_flags]
    column_default_sort: ClassVar[Any] = [(Review.created_at, False)]

    def list_query(self, request: Request) -> Select[Any]:
        return select(Review).where(_queue(None))

    async def _moderate(self, request: Request, status: ReviewStatus) -> RedirectResponse:
        ids, reason = await reason_of(request)
        if reason is None:
            return back_to_list(self, request, "A reason is required.", ok=False)
        changed, refused = await operations.moderate_reviews(
            runtime_of(request).database, ids, status, reason, actor_id=operator_id(request)
        )
        done = "Published" if status == ReviewStatus.published else "Hid"
        return _outcome(self, request, done, changed, refused)

    @action("publish", "Publish…")
    async def publish(self, request: Request) -> Response:
        return await ask_reason(self, request, decide="decide_publish", verb="Publish")

    @action("hide", "Hide…")
    async def hide(self, request: Request) -> Response:
        return await ask_reason(self, request, decide="decide_hide", verb="Hide")

    @expose("/decide/publish", methods=["POST"])
    async def decide_publish(self, request: Request) -> RedirectResponse:
        return await self._moderate(request, ReviewStatus.published)

    @expose("/decide/hide", methods=["POST"])
    async def decide_hide(self, request: Request) -> RedirectResponse:
        return await self._moderate(request, ReviewStatus.hidden)


PLAN, STATUS, PERIOD, USERS, LIMIT = "plan", "plan_status", "period", "users", "limit"
_PLAN_COLUMNS = (PLAN, STATUS, PERIOD, USERS, LIMIT)
_PAGE_PLANS = "oja_admin_page_plans"


def _plan_value(plan: SubscriptionOut, prop: str) -> str | int:
    if prop == PLAN:
        return plan.plan
    if prop == STATUS:
        return plan.status
    if prop == PERIOD:
        return f"{plan.period_start:%Y-%m-%d} – {plan.period_end:%Y-%m-%d}"
    if prop == USERS:
        return plan.usage.users
    return "unlimited" if plan.usage.limit is None else plan.usage.limit


class StorePlanView(LinkingView):
    """Each store's plan and the distinct users it served this period, as the store itself sees
    them at ``GET /vendors/me/subscription`` (a store without a paid plan is on the free tier)."""

    # Declared by hand: a second view over ``vendor`` needs its own identity, which sqladmin
    # would otherwise derive from the model.
    model = Vendor
    pk_columns = VendorView.pk_columns
    identity = "store-plan"
    name = "Store plan"
    name_plural = "Store plans"
    icon = "fa-solid fa-chart-line"
    column_list: ClassVar[Any] = [Vendor.name, Vendor.status, PLAN, STATUS, PERIOD, USERS, LIMIT]
    column_details_list: ClassVar[Any] = [
        Vendor.id,
        Vendor.name,
        Vendor.status,
        PLAN,
        STATUS,
        PERIOD,
        USERS,
        LIMIT,
    ]
    column_labels: ClassVar[Any] = {
        Vendor.name: "Store",
        Vendor.status: "Store status",
        PLAN: "Plan",
        STATUS: "Plan status",
        PERIOD: "Period (UTC)",
        USERS: "Distinct users",
        LIMIT: "Limit",
    }
    column_filters: ClassVar[Any] = [values_filter(Vendor.status)]
    column_searchable_list: ClassVar[Any] = [Vendor.name, Vendor.slug]
    column_sortable_list: ClassVar[Any] = [Vendor.name]
    column_default_sort: ClassVar[Any] = [(Vendor.name, False)]

    async def _plan(self, request: Request, vendor_id: uuid.UUID) -> SubscriptionOut:
        """The store's plan and usage, read once per request (a page reads its stores' once)."""
        plans: dict[uuid.UUID, SubscriptionOut] = getattr(request.state, _PAGE_PLANS, {})
        if vendor_id not in plans:
            async with read_only(runtime_of(request).database) as db:
                plans[vendor_id] = await plan_service.subscription(db, vendor_id)
            setattr(request.state, _PAGE_PLANS, plans)
        return plans[vendor_id]

    async def get_list_value(
        self, obj: Any, prop: str, request: Request | None = None
    ) -> tuple[Any, Any]:
        if prop in _PLAN_COLUMNS and request is not None:
            value = _plan_value(await self._plan(request, obj.id), prop)
            return value, str(value)
        return await super().get_list_value(obj, prop, request)

    async def get_detail_value(
        self, obj: Any, prop: str, request: Request | None = None
    ) -> tuple[Any, Any]:
        if prop in _PLAN_COLUMNS and request is not None:
            value = _plan_value(await self._plan(request, obj.id), prop)
            return value, str(value)
        return await super().get_detail_value(obj, prop, request)
