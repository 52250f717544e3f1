"""Every admin view, in menu order. A module adds its operator view here and nowhere else.

Write it like the others: a :class:`~oja.admin.base.ReadOnlyView` over the module's model with an
allow-list of columns (never a secret), and any change it offers as an ``@action`` that calls one
function of :mod:`oja.admin.operations`. A change the service records with a reason is an action
that opens :func:`~oja.admin.base.ask_reason`'s form, posted to an ``@expose``'d ``decide`` route.
"""

from __future__ import annotations

from sqladmin import BaseView, ModelView

from oja.admin.business_views import (
    ChatroomView,
    DocumentView,
    PaymentView,
    SubscriptionView,
    WebhookEventView,
)
from oja.admin.file_views import FileView
from oja.admin.identity_views import ApiKeyView, UserView
from oja.admin.job_views import JobView
from oja.admin.marketplace_views import (
    DisputeView,
    PayoutView,
    ProductView,
    RefundView,
    ReturnView,
    ReviewQueueView,
    StoreOrderView,
    StorePlanView,
    VendorView,
)
from oja.admin.notification_views import DeliveryFailureView, NotificationTemplateView

VIEWS: list[type[ModelView] | type[BaseView]] = [
    UserView,
    ApiKeyView,
    JobView,
    FileView,
    DocumentView,
    PaymentView,
    WebhookEventView,
    SubscriptionView,
    ChatroomView,
    VendorView,
    ProductView,
    StoreOrderView,
    ReturnView,
    RefundView,
    PayoutView,
    DisputeView,
    ReviewQueueView,
    StorePlanView,
    NotificationTemplateView,
    DeliveryFailureView,
]
