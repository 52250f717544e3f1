"""Routes: Paystack and Flutterwave payments and webhooks, Stripe subscription and webhook, plans."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from oja.billing import inbox, service, subscriptions
from oja.billing.config import BillingSettings, get_billing_settings
from oja.billing.errors import (
    AlreadySubscribed,
    BillingNotConfigured,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidPayload,
    InvalidSignature,
    NoSubscription,
    PaymentInitiationFailed,
    PaymentNotFound,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    RefundFailed,
    RefundNotAllowed,
)
from oja.billing.plans import CHAT_PROMPTS_METRIC, PLANS
from oja.billing.quota import quotas_for
from oja.billing.schemas import (
    CheckoutResponse,
    InitiatePaymentRequest,
    InitiatePaymentResponse,
    PaymentStatusResponse,
    PlanList,
    PlanOut,
    PortalResponse,
    RefundRequest,
    RefundResponse,
    SubscriptionStatusResponse,
    UsageOut,
    WebhookAck,
)
from oja.billing.states import public_status
from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import errors
from oja.identity.dependencies import USER_ERRORS, CurrentUser


class InvalidInputRoute(APIRoute):
    """Answers invalid input with 400 ``invalid_input`` and the fields' errors in ``details``, never 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                details = [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                    for e in exc.errors()
                ]
                raise InvalidInput("The request is not valid.", details=details) from None

        return handle


BillingSettingsDep = Annotated[BillingSettings, Depends(get_billing_settings)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a request safely: the same key from the same user returns the first result.",
    ),
]

payments_router = APIRouter(tags=["payments"], route_class=InvalidInputRoute)
webhooks_router = APIRouter(tags=["webhooks"])
subscriptions_router = APIRouter(tags=["subscriptions"])
plans_router = APIRouter(tags=["plans"])

# The payments routes answer invalid input with 400 invalid_input (InvalidInputRoute).
PAYMENTS = (*USER_ERRORS, InvalidInput)


@payments_router.post(
    "/payments/paystack/initiate",
    status_code=status.HTTP_201_CREATED,
    response_model=InitiatePaymentResponse,
    summary="Start a Paystack payment; returns the checkout URL",
    responses=errors(
        *PAYMENTS,
        PaymentInitiationFailed,
        IdempotencyKeyReused,
        ProviderError,
        ProviderUnavailable,
        BillingNotConfigured,
    ),
)
async def initiate_payment(
    body: InitiatePaymentRequest,
    user: CurrentUser,
    db: SessionDep,
    settings: BillingSettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> InitiatePaymentResponse:
    payment = await service.initiate_payment(db, user, body, idempotency_key, settings)
    return _initiated(payment)


@payments_router.post(
    "/payments/flutterwave/initiate",
    status_code=status.HTTP_201_CREATED,
    response_model=InitiatePaymentResponse,
    summary="Start a Flutterwave Standard payment; returns the hosted checkout link",
    responses=errors(
        *PAYMENTS,
        PaymentInitiationFailed,
        IdempotencyKeyReused,
        ProviderError,
        ProviderUnavailable,
        ProviderRateLimited,
        BillingNotConfigured,
    ),
)
async def initiate_flutterwave_payment(
    body: InitiatePaymentRequest,
    user: CurrentUser,
    db: SessionDep,
    settings: BillingSettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> InitiatePaymentResponse:
    payment = await service.initiate_payment(
        db, user, body, idempotency_key, settings, provider="flutterwave"
    )
    return _initiated(payment)


@payments_router.get(
    "/payments/{reference}/status",
    response_model=PaymentStatusResponse,
    summary="A payment's status; `refresh=true` asks Paystack first",
    responses=errors(*PAYMENTS, PaymentNotFound, ProviderUnavailable, BillingNotConfigured),
)
async def payment_status(
    reference: str,
    user: CurrentUser,
    db: SessionDep,
    settings: BillingSettingsDep,
    refresh: Annotated[bool, Query(description="Verify with Paystack before answering.")] = False,
) -> PaymentStatusResponse:
    payment = await service.payment_status(
        db, user.id, reference, refresh=refresh, settings=settings
    )
    return _payment_out(payment)


@payments_router.post(
    "/payments/{reference}/refund",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundResponse,
    summary="Refund all or part of a successful payment",
    responses=errors(
        *PAYMENTS,
        RefundFailed,
        PaymentNotFound,
        IdempotencyKeyReused,
        RefundNotAllowed,
        ProviderUnavailable,
        BillingNotConfigured,
    ),
)
async def refund_payment(  # noqa: PLR0917 - FastAPI injects by parameter
    reference: str,
    user: CurrentUser,
    db: SessionDep,
    settings: BillingSettingsDep,
    body: RefundRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> RefundResponse:
    amount = body.amount if body is not None else None
    refund, payment = await service.refund_payment(
        db, user.id, reference, amount=amount, idempotency_key=idempotency_key, settings=settings
    )
    return RefundResponse(
        id=str(refund.id),
        reference=payment.reference,
        amount=refund.amount,
        currency=refund.currency,
        status=refund.status,
        amount_refunded=payment.amount_refunded,
    )


def _initiated(payment: Any) -> InitiatePaymentResponse:
    return InitiatePaymentResponse(
        reference=payment.reference,
        authorization_url=payment.authorization_url,
        status=public_status(payment.status),
        provider_status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
    )


def _payment_out(payment: Any) -> PaymentStatusResponse:
    return PaymentStatusResponse(
        reference=payment.reference,
        status=public_status(payment.status),
        provider_status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        paid_at=payment.paid_at,
        amount_refunded=payment.amount_refunded,
        flag=payment.flag,
    )


@webhooks_router.post(
    "/payments/paystack/webhook",
    response_model=WebhookAck,
    summary="Paystack webhook (public; HMAC-SHA512 signature required)",
    responses=errors(InvalidSignature, InvalidPayload, BillingNotConfigured),
)
async def paystack_webhook(
    request: Request,
    db: SessionDep,
    settings: BillingSettingsDep,
    x_paystack_signature: Annotated[str | None, Header()] = None,
) -> WebhookAck:
    body = await request.body()
    await inbox.receive_paystack(db, body, x_paystack_signature, settings)
    return WebhookAck(status=True)


@webhooks_router.post(
    "/payments/flutterwave/webhook",
    response_model=WebhookAck,
    summary="Flutterwave webhook (public; `verif-hash` or v4 `flutterwave-signature` required)",
    responses=errors(InvalidSignature, InvalidPayload, BillingNotConfigured),
)
async def flutterwave_webhook(
    request: Request, db: SessionDep, settings: BillingSettingsDep
) -> WebhookAck:
    body = await request.body()
    await inbox.receive_flutterwave(db, body, request.headers, settings)
    return WebhookAck(status=True)


class StripeAck(BaseModel):
    received: bool = True


@webhooks_router.post(
    "/webhook/stripe",
    response_model=StripeAck,
    summary="Stripe webhook (public; Stripe-Signature required)",
    responses=errors(InvalidSignature, BillingNotConfigured),
)
async def stripe_webhook(
    request: Request,
    db: SessionDep,
    settings: BillingSettingsDep,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> StripeAck:
    body = await request.body()
    await inbox.receive_stripe(db, body, stripe_signature, settings)
    return StripeAck()


@subscriptions_router.post(
    "/subscribe/pro",
    response_model=CheckoutResponse,
    summary="Start a Pro subscription through Stripe Checkout",
    responses=errors(
        *USER_ERRORS,
        PaymentInitiationFailed,
        AlreadySubscribed,
        ProviderUnavailable,
        BillingNotConfigured,
    ),
)
async def subscribe_pro(
    user: CurrentUser,
    db: SessionDep,
    settings: BillingSettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> CheckoutResponse:
    checkout = await subscriptions.start_pro_checkout(db, user, idempotency_key, settings)
    return CheckoutResponse(checkout_url=checkout.url, session_id=checkout.id)


@subscriptions_router.get(
    "/subscription/status",
    response_model=SubscriptionStatusResponse,
    summary="Your tier (Basic or Pro), subscription state and today's usage",
    responses=errors(*USER_ERRORS),
)
async def subscription_status(
    user: CurrentUser, db: SessionDep, runtime: RuntimeDep
) -> SubscriptionStatusResponse:
    current = await service.entitlements(db, user.id)
    usage = await quotas_for(runtime).usage(
        f"user:{user.id}", CHAT_PROMPTS_METRIC, current.daily_prompt_limit
    )
    return SubscriptionStatusResponse(
        tier=current.tier,
        status=current.subscription_status or "none",
        current_period_end=current.current_period_end,
        cancel_at_period_end=current.cancel_at_period_end,
        usage=UsageOut(
            prompts_today=usage.used,
            daily_limit=usage.limit,
            remaining=usage.remaining,
            resets_at=usage.resets_at,
        ),
    )


@subscriptions_router.post(
    "/subscription/cancel",
    response_model=SubscriptionStatusResponse,
    summary="Cancel the subscription at the end of the paid period",
    responses=errors(
        *USER_ERRORS,
        NoSubscription,
        PaymentInitiationFailed,
        ProviderUnavailable,
        BillingNotConfigured,
    ),
)
async def cancel_subscription(
    user: CurrentUser, db: SessionDep, runtime: RuntimeDep, settings: BillingSettingsDep
) -> SubscriptionStatusResponse:
    await subscriptions.cancel_at_period_end(db, user.id, settings)
    return await subscription_status(user, db, runtime)


@subscriptions_router.post(
    "/subscription/portal",
    response_model=PortalResponse,
    summary="A Stripe billing-portal link to manage payment methods and invoices",
    responses=errors(
        *USER_ERRORS,
        NoSubscription,
        PaymentInitiationFailed,
        ProviderUnavailable,
        BillingNotConfigured,
    ),
)
async def billing_portal(
    user: CurrentUser, db: SessionDep, settings: BillingSettingsDep
) -> PortalResponse:
    return PortalResponse(url=await subscriptions.portal_url(db, user.id, settings))


@plans_router.get("/plans", response_model=PlanList, summary="Every plan on offer (public)")
async def list_plans() -> PlanList:
    return PlanList(
        items=[
            PlanOut(
                code=p.code,
                name=p.name,
                audience=p.audience.value,
                interval=p.interval,
                paid=p.paid,
                daily_prompt_limit=p.daily_prompt_limit,
                user_limit=p.user_limit,
            )
            for p in PLANS.values()
        ]
    )


routers = [payments_router, webhooks_router, subscriptions_router, plans_router]
