"""Delivery-status callbacks: Twilio's status callback and SendGrid's Event Webhook.

Both are verified before anything is read: Twilio's ``X-Twilio-Signature`` (base64 HMAC-SHA1, keyed
with the Auth Token, of the callback URL followed by every form parameter name and value sorted by
name) and SendGrid's ECDSA signature (P-256, SHA-256 over the timestamp header followed by the raw
body, verified with the account's public key). Statuses then move monotonically
(:data:`~oja.notifications.models.STATUS_RANK`): callbacks arrive in any order and SendGrid repeats
events, so a late or repeated one changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncSession

from oja.channels.config import ChannelSettings
from oja.channels.mail import REFERENCE_ARG
from oja.notifications import repository
from oja.notifications.errors import CallbackSignatureInvalid
from oja.notifications.models import STATUS_RANK, DeliveryStatus, NotificationDelivery

TWILIO_STATUSES = {
    "delivered": DeliveryStatus.delivered,
    "read": DeliveryStatus.delivered,
    "failed": DeliveryStatus.failed,
    "undelivered": DeliveryStatus.failed,
    "canceled": DeliveryStatus.failed,
}
"""Twilio ``MessageStatus`` → delivery status; any other status proves the message was taken."""
SENDGRID_EVENTS = {
    "processed": DeliveryStatus.sent,
    "deferred": DeliveryStatus.sent,
    "delivered": DeliveryStatus.delivered,
    "open": DeliveryStatus.delivered,
    "click": DeliveryStatus.delivered,
    "spamreport": DeliveryStatus.delivered,
    "bounce": DeliveryStatus.failed,
    "dropped": DeliveryStatus.failed,
}
"""SendGrid event → delivery status (unsubscribe events say nothing about delivery)."""


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(
        hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


def verify_twilio(
    settings: ChannelSettings, url: str, params: dict[str, str], signature: str
) -> None:
    token = settings.twilio_auth_token
    if token is None or not signature:
        raise CallbackSignatureInvalid("The Twilio signature is missing or cannot be checked.")
    expected = twilio_signature(token.get_secret_value(), url, params)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise CallbackSignatureInvalid("The Twilio signature does not match.")


def _public_key(text: str) -> ec.EllipticCurvePublicKey:
    data = text.strip()
    key = (
        serialization.load_pem_public_key(data.encode())
        if data.startswith("-----BEGIN")
        else serialization.load_der_public_key(base64.b64decode(data))
    )
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an EC public key")
    return key


def verify_sendgrid(settings: ChannelSettings, timestamp: str, body: bytes, signature: str) -> None:
    if not settings.sendgrid_webhook_public_key or not signature or not timestamp:
        raise CallbackSignatureInvalid("The SendGrid signature is missing or cannot be checked.")
    try:
        key = _public_key(settings.sendgrid_webhook_public_key)
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise CallbackSignatureInvalid("The SendGrid signature does not match.") from exc


async def _advance(
    db: AsyncSession,
    delivery: NotificationDelivery | None,
    status: DeliveryStatus,
    provider_status: str,
    error: str | None = None,
) -> bool:
    if delivery is None:
        return False
    if STATUS_RANK[status] <= STATUS_RANK[DeliveryStatus(delivery.status)]:
        return False
    values: dict[str, Any] = {"status": status, "provider_status": provider_status[:32]}
    if status == DeliveryStatus.failed:
        values["last_error"] = (error or provider_status)[:500]
    return await repository.move_delivery(
        db, delivery.id, from_statuses=[delivery.status], **values
    )


async def record_twilio(db: AsyncSession, params: dict[str, str]) -> int:
    sid, reported = params.get("MessageSid") or params.get("SmsSid"), params.get("MessageStatus")
    if not sid or not reported:
        return 0
    delivery = await repository.delivery_by_provider_id(db, "twilio", sid)
    status = TWILIO_STATUSES.get(reported, DeliveryStatus.sent)
    error = f"Twilio error {params['ErrorCode']}" if params.get("ErrorCode") else None
    return int(await _advance(db, delivery, status, reported, error))


async def record_sendgrid(db: AsyncSession, body: bytes) -> int:
    try:
        events = json.loads(body)
    except ValueError:
        return 0
    if not isinstance(events, list):
        return 0
    changed = 0
    for event in events:
        if not isinstance(event, dict) or event.get("event") not in SENDGRID_EVENTS:
            continue
        delivery = await _sendgrid_delivery(db, event)
        name = str(event["event"])
        reason = event.get("reason") or event.get("response")
        changed += await _advance(db, delivery, SENDGRID_EVENTS[name], name, str(reason or name))
    return changed


async def _sendgrid_delivery(
    db: AsyncSession, event: dict[str, Any]
) -> NotificationDelivery | None:
    """By the reference Oja put in ``custom_args``, else by ``sg_message_id`` (which starts with
    the ``X-Message-Id`` Oja stored)."""
    reference = event.get(REFERENCE_ARG)
    if isinstance(reference, str):
        try:
            delivery = await db.get(NotificationDelivery, uuid.UUID(reference))
        except ValueError:
            delivery = None
        if delivery is not None and delivery.channel == "email":
            return delivery
    message_id = str(event.get("sg_message_id") or "").split(".", 1)[0]
    if not message_id:
        return None
    return await repository.delivery_by_provider_id(db, "sendgrid", message_id)
