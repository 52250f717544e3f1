"""The notification service's errors."""

from __future__ import annotations

from typing import ClassVar

from oja.core.errors import ErrorCode, OjaError


class NotificationsErrorCode(ErrorCode):
    NOTIFICATION_NOT_FOUND = "notification_not_found"
    NOTIFICATION_TEMPLATE_NOT_FOUND = "notification_template_not_found"
    NOTIFICATION_TEMPLATE_INVALID = "notification_template_invalid"
    CALLBACK_SIGNATURE_INVALID = "callback_signature_invalid"
    UNSUBSCRIBE_TOKEN_INVALID = "unsubscribe_token_invalid"  # noqa: S105 - a code, not a secret


class NotificationNotFound(OjaError):
    """No such notification among yours (another user's answers the same)."""

    status_code: ClassVar[int] = 404
    code: ClassVar[ErrorCode] = NotificationsErrorCode.NOTIFICATION_NOT_FOUND


class TemplateNotFound(OjaError):
    """No such event, or no template for it on that channel."""

    status_code: ClassVar[int] = 404
    code: ClassVar[ErrorCode] = NotificationsErrorCode.NOTIFICATION_TEMPLATE_NOT_FOUND


class TemplateInvalid(OjaError):
    """The template names an unknown variable, uses what the sandbox forbids, or does not render
    with the event's sample data; nothing was saved."""

    status_code: ClassVar[int] = 422
    code: ClassVar[ErrorCode] = NotificationsErrorCode.NOTIFICATION_TEMPLATE_INVALID


class CallbackSignatureInvalid(OjaError):
    """The provider callback's signature is missing or wrong (or the provider's key is not
    configured, so none can be right); nothing was recorded."""

    status_code: ClassVar[int] = 403
    code: ClassVar[ErrorCode] = NotificationsErrorCode.CALLBACK_SIGNATURE_INVALID


class UnsubscribeTokenInvalid(OjaError):
    """The unsubscribe link's token is forged, altered or names no account; nothing changed."""

    status_code: ClassVar[int] = 400
    code: ClassVar[ErrorCode] = NotificationsErrorCode.UNSUBSCRIBE_TOKEN_INVALID
