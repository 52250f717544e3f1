"""Routes: a user's in-app notifications and preferences, the admins' templates, and the
providers' delivery-status callbacks (public, signature-checked)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import InvalidRequest, errors
from oja.core.pagination import Page, PageParams, pagination
from oja.identity.dependencies import USER_ERRORS, CurrentUser, RequireRole, SignedInUser
from oja.notifications import callbacks, service
from oja.notifications.catalogue import Channel
from oja.notifications.dependencies import ChannelSettingsDep
from oja.notifications.errors import (
    CallbackSignatureInvalid,
    NotificationNotFound,
    TemplateInvalid,
    TemplateNotFound,
    UnsubscribeTokenInvalid,
)
from oja.notifications.schemas import (
    CallbackAck,
    MarkedRead,
    NotificationOut,
    PreferencesOut,
    PreferencesUpdate,
    TemplateOut,
    TemplateUpdate,
    UnreadCount,
    Unsubscribed,
)

router = APIRouter(prefix="/notifications", tags=["notifications"])
callback_router = APIRouter(prefix="/notifications/callbacks", tags=["webhooks"])
unsubscribe_router = APIRouter(prefix="/notifications", tags=["notifications"])
admin_router = APIRouter(
    prefix="/admin/notification-templates",
    tags=["notifications: admin"],
    dependencies=[RequireRole("admin")],
)
Pagination = Annotated[PageParams, Depends(pagination())]


@router.get(
    "",
    response_model=Page[NotificationOut],
    summary="Your in-app notifications, newest first",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def list_notifications(
    user: SignedInUser,
    db: SessionDep,
    params: Pagination,
    unread: Annotated[bool, Query(description="Only the ones not read yet.")] = False,
) -> Page[NotificationOut]:
    return await service.list_mine(db, user.id, unread=unread, params=params)


@router.get(
    "/unread-count",
    response_model=UnreadCount,
    summary="How many of your notifications are unread",
    responses=errors(*USER_ERRORS),
)
async def unread_count(user: SignedInUser, db: SessionDep) -> UnreadCount:
    return await service.unread_count(db, user.id)


@router.post(
    "/read-all",
    response_model=MarkedRead,
    summary="Mark all your notifications read",
    responses=errors(*USER_ERRORS),
)
async def read_all(user: CurrentUser, db: SessionDep) -> MarkedRead:
    return await service.mark_all_read(db, user.id)


@router.get(
    "/preferences",
    response_model=PreferencesOut,
    summary="Which categories reach you by email and SMS (and what is always sent)",
    responses=errors(*USER_ERRORS),
)
async def get_preferences(user: SignedInUser, db: SessionDep) -> PreferencesOut:
    return await service.preferences(db, user.id)


@router.put(
    "/preferences",
    response_model=PreferencesOut,
    summary="Opt categories in or out of email and SMS (the listed ones change, others stay)",
    responses=errors(*USER_ERRORS, InvalidRequest),
)
async def put_preferences(
    data: PreferencesUpdate, user: CurrentUser, db: SessionDep
) -> PreferencesOut:
    return await service.update_preferences(db, user.id, data)


@router.post(
    "/{notification_id}/read",
    response_model=NotificationOut,
    summary="Mark one of your notifications read",
    responses=errors(*USER_ERRORS, NotificationNotFound, InvalidRequest),
)
async def read_one(
    notification_id: uuid.UUID, user: CurrentUser, db: SessionDep
) -> NotificationOut:
    return await service.mark_read(db, user.id, notification_id)


@unsubscribe_router.post(
    "/unsubscribe",
    response_model=Unsubscribed,
    summary="One-click unsubscribe from a marketing email (public; RFC 8058, signed token)",
    responses=errors(UnsubscribeTokenInvalid, InvalidRequest),
)
async def unsubscribe(
    db: SessionDep,
    runtime: RuntimeDep,
    token: Annotated[str, Query(max_length=200, description="The token from the email's link.")],
) -> Unsubscribed:
    return await service.unsubscribe_by_token(db, runtime.settings.secret_key, token)


@callback_router.post(
    "/twilio",
    response_model=CallbackAck,
    summary="Twilio status callback (public; X-Twilio-Signature required)",
    responses=errors(CallbackSignatureInvalid),
)
async def twilio_status(
    request: Request,
    db: SessionDep,
    settings: ChannelSettingsDep,
    signature: Annotated[str, Header(alias="X-Twilio-Signature")] = "",
) -> CallbackAck:
    form = await request.form()
    params = {name: str(value) for name, value in form.items()}
    url = settings.twilio_status_callback_url or str(request.url)
    callbacks.verify_twilio(settings, url, params, signature)
    return CallbackAck(recorded=await callbacks.record_twilio(db, params))


@callback_router.post(
    "/sendgrid",
    response_model=CallbackAck,
    summary="SendGrid Event Webhook (public; ECDSA signature required)",
    responses=errors(CallbackSignatureInvalid),
)
async def sendgrid_events(
    request: Request,
    db: SessionDep,
    settings: ChannelSettingsDep,
    signature: Annotated[str, Header(alias="X-Twilio-Email-Event-Webhook-Signature")] = "",
    timestamp: Annotated[str, Header(alias="X-Twilio-Email-Event-Webhook-Timestamp")] = "",
) -> CallbackAck:
    body = await request.body()
    callbacks.verify_sendgrid(settings, timestamp, body, signature)
    return CallbackAck(recorded=await callbacks.record_sendgrid(db, body))


@admin_router.get(
    "",
    response_model=list[TemplateOut],
    summary="Every template: the defaults and the overrides",
    responses=errors(*USER_ERRORS),
)
async def list_templates(db: SessionDep) -> list[TemplateOut]:
    return await service.list_templates(db)


@admin_router.get(
    "/{event}/{channel}",
    response_model=TemplateOut,
    summary="One event's template on one channel (the override if any, else the default)",
    responses=errors(*USER_ERRORS, TemplateNotFound, InvalidRequest),
)
async def get_template(
    event: str,
    channel: Channel,
    db: SessionDep,
    locale: Annotated[str, Query(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] = "en",
) -> TemplateOut:
    return await service.get_template(db, event, channel, locale)


@admin_router.put(
    "/{event}/{channel}",
    response_model=TemplateOut,
    summary="Override a template (validated against the event's variables and sample data)",
    responses=errors(*USER_ERRORS, TemplateNotFound, TemplateInvalid, InvalidRequest),
)
async def put_template(
    event: str, channel: Channel, data: TemplateUpdate, admin: CurrentUser, db: SessionDep
) -> TemplateOut:
    return await service.put_template(db, event, channel, data, admin.id)


routers = [unsubscribe_router, router, callback_router, admin_router]
