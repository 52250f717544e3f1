"""Documents, payments, webhook events (with replay), subscriptions and chatrooms."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import action
from sqladmin.filters import StaticValuesFilter
from starlette.requests import Request
from starlette.responses import RedirectResponse

from oja.admin import operations
from oja.admin.base import (
    ReadOnlyView,
    back_to_list,
    refuse_cross_site,
    runtime_of,
    selected_ids,
    values_filter,
)
from oja.billing.models import Payment, Subscription, WebhookEvent
from oja.chat.models import Chatroom
from oja.documents.models import Document


class DocumentView(ReadOnlyView, model=Document):
    name = "Document"
    icon = "fa-solid fa-file-lines"
    column_list: ClassVar[Any] = [
        Document.filename,
        Document.kind,
        Document.size,
        Document.status,
        Document.stage,
        Document.owner_id,
        Document.created_at,
    ]
    column_filters: ClassVar[Any] = [
        values_filter(Document.status),
    ]
    column_searchable_list: ClassVar[Any] = [Document.filename, Document.sha256]
    column_sortable_list: ClassVar[Any] = [Document.created_at, Document.status]
    column_default_sort: ClassVar[Any] = [(Document.created_at, True)]


class PaymentView(ReadOnlyView, model=Payment):
    name = "Payment"
    icon = "fa-solid fa-money-bill"
    # Amounts are integer minor units (kobo, cents), shown as stored.
    column_list: ClassVar[Any] = [
        Payment.reference,
        Payment.status,
        Payment.amount,
        Payment.currency,
        Payment.amount_refunded,
        Payment.flag,
        Payment.user_id,
        Payment.paid_at,
        Payment.created_at,
    ]
    column_details_exclude_list: ClassVar[Any] = [Payment.access_code, Payment.request_hash]
    column_filters: ClassVar[Any] = [
        values_filter(Payment.status),
    ]
    column_searchable_list: ClassVar[Any] = [Payment.reference, Payment.email]
    column_sortable_list: ClassVar[Any] = [Payment.created_at, Payment.amount, Payment.status]
    column_default_sort: ClassVar[Any] = [(Payment.created_at, True)]


class WebhookEventView(ReadOnlyView, model=WebhookEvent):
    name = "Webhook event"
    icon = "fa-solid fa-inbox"
    column_list: ClassVar[Any] = [
        WebhookEvent.provider,
        WebhookEvent.event_type,
        WebhookEvent.status,
        WebhookEvent.outcome,
        WebhookEvent.received_at,
        WebhookEvent.processed_at,
    ]
    column_filters: ClassVar[Any] = [
        values_filter(WebhookEvent.status),
        StaticValuesFilter(
            WebhookEvent.provider, values=[("paystack", "paystack"), ("stripe", "stripe")]
        ),
    ]
    column_searchable_list: ClassVar[Any] = [WebhookEvent.event_id, WebhookEvent.event_type]
    column_sortable_list: ClassVar[Any] = [WebhookEvent.received_at, WebhookEvent.status]
    column_default_sort: ClassVar[Any] = [(WebhookEvent.received_at, True)]

    @action("replay", "Replay events")
    async def replay(self, request: Request) -> RedirectResponse:
        refuse_cross_site(request)
        requested = selected_ids(request)
        replayed = await operations.replay_webhook_events(runtime_of(request).database, requested)
        message = f"Queued {len(replayed)} of {len(requested)} selected event(s) for processing."
        return back_to_list(self, request, message, ok=bool(replayed))


class SubscriptionView(ReadOnlyView, model=Subscription):
    name = "Subscription"
    icon = "fa-solid fa-star"
    column_list: ClassVar[Any] = [
        Subscription.user_id,
        Subscription.plan_code,
        Subscription.status,
        Subscription.current_period_end,
        Subscription.cancel_at_period_end,
        Subscription.synced_at,
    ]
    column_searchable_list: ClassVar[Any] = [Subscription.provider_subscription_id]
    column_sortable_list: ClassVar[Any] = [Subscription.current_period_end, Subscription.status]
    column_default_sort: ClassVar[Any] = [(Subscription.updated_at, True)]


class ChatroomView(ReadOnlyView, model=Chatroom):
    name = "Chatroom"
    icon = "fa-solid fa-comments"
    column_list: ClassVar[Any] = [Chatroom.title, Chatroom.owner_id, Chatroom.created_at]
    column_searchable_list: ClassVar[Any] = [Chatroom.title]
    column_sortable_list: ClassVar[Any] = [Chatroom.created_at]
    column_default_sort: ClassVar[Any] = [(Chatroom.created_at, True)]
