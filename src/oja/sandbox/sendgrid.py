"""A SendGrid fake: v3 Mail Send and a signed Event Webhook, from marketplace-apis.md §4.1.

``POST /v3/mail/send`` checks ``Authorization: Bearer <key>`` (401 otherwise) and the documented body
(``personalizations`` 1–1000 each with a ``to``, ``from.email``, a ``subject`` and ``content`` unless a
``template_id`` supplies them; at most 1,000 recipients), answers SendGrid's error shape
``{"errors": [{"message", "field", "help"}]}`` on 400, and on success **202 with an empty body** and an
``X-Message-Id`` header. Every accepted message is kept (``GET /messages``, an HTML inbox at ``/``).

The Event Webhook: :meth:`SendGridFake.deliver_events` POSTs a JSON array of events (``email``,
``timestamp``, ``event``, ``sg_event_id``, ``sg_message_id`` and the message's ``custom_args`` as
top-level keys) to ``webhook_url``, signed as SendGrid signs it: ECDSA P-256 over SHA-256 of the
timestamp followed by the raw body, base64 DER in ``X-Twilio-Email-Event-Webhook-Signature``, the
timestamp in ``X-Twilio-Email-Event-Webhook-Timestamp``. :attr:`SendGridFake.public_key` is the
verification key in the form SendGrid's settings page shows (base64 DER).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from oja.core.http import tls_context
from oja.sandbox.base import (
    Failure,
    ScriptedFailures,
    add_inbox,
    bearer_token,
    fake_app,
    json_object,
)

DEFAULT_API_KEY = "SG.oja-sandbox.sendgrid-api-key"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_RECIPIENTS = 1000


@dataclass(frozen=True, slots=True)
class Call:
    path: str
    status: int


@dataclass(frozen=True, slots=True)
class ReceivedEmail:
    message_id: str
    to: str
    sender: str
    subject: str
    text: str
    html: str | None
    custom_args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    received_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "to": self.to,
            "from": self.sender,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "custom_args": self.custom_args,
            "headers": self.headers,
            "received_at": self.received_at,
        }


def _error(status: int, message: str, field_name: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "field": field_name, "help": None}]}, status_code=status
    )


def sign(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """SendGrid's Event Webhook signature: base64 DER ECDSA-SHA256 of ``timestamp + body``."""
    return base64.b64encode(
        private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()


class SendGridFake(ScriptedFailures[Call]):
    """State and knobs; ``app`` is the ASGI app to serve. Knobs: :meth:`fail_next`,
    :meth:`fail_always`, :meth:`reset`; ``webhook_url`` where events go."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, webhook_url: str | None = None) -> None:
        super().__init__(api_key)
        self.webhook_url = webhook_url
        self._private_key = ec.generate_private_key(ec.SECP256R1())
        self._messages: list[ReceivedEmail] = []
        self.app = self._build_app()

    @property
    def api_key(self) -> str:
        return next(iter(self.api_keys))

    @property
    def public_key(self) -> str:
        """The webhook verification key as SendGrid shows it: base64 of the DER public key."""
        der = self._private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    @property
    def messages(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self._messages)

    def fail_next(self, count: int = 1, *, status: int = 500, message: str | None = None) -> None:
        """The next ``count`` authorised sends answer ``status`` in SendGrid's error shape."""
        self._fail_next(count, Failure(status, None, message))

    def _reset_more(self) -> None:
        self._messages.clear()

    # -- the Event Webhook -------------------------------------------------------------------

    def event(self, message: ReceivedEmail, event: str, **extra: Any) -> dict[str, Any]:
        """One event about ``message`` as SendGrid reports it (custom args echoed at top level)."""
        return {
            "email": message.to,
            "timestamp": int(time.time()),
            "event": event,
            "sg_event_id": secrets.token_urlsafe(16),
            "sg_message_id": f"{message.message_id}.filterdrecv-{secrets.token_hex(4)}.0",
            **message.custom_args,
            **extra,
        }

    def signed_headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._private_key, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
        }

    async def deliver_events(self, events: list[dict[str, Any]]) -> int | None:
        """POST ``events`` (one batch) to ``webhook_url``, signed; the answer's status (None:
        unreachable or no URL)."""
        if not self.webhook_url:
            return None
        body = json.dumps(events).encode()
        try:
            async with httpx.AsyncClient(timeout=30, verify=tls_context()) as client:
                answer = await client.post(
                    self.webhook_url, content=body, headers=self.signed_headers(body)
                )
        except httpx.HTTPError:
            return None
        return answer.status_code

    # -- Mail Send ---------------------------------------------------------------------------

    def _send(self, request: Request, body: dict[str, Any] | None) -> Response:
        with self._lock:
            if bearer_token(request) not in self.api_keys:
                self.calls.append(Call("/v3/mail/send", 401))
                return _error(
                    401, "The provided authorization grant is invalid, expired, or revoked"
                )
        if body is None:
            return _error(400, "Bad Request", None)
        problem = _validate(body)
        if problem is not None:
            return _error(400, *problem)
        with self._lock:
            failure = self._next_failure()
            if failure is not None:
                self.calls.append(Call("/v3/mail/send", failure.status))
                return _error(failure.status, failure.message or "Internal Server Error")
            self.calls.append(Call("/v3/mail/send", 202))
            message_id = secrets.token_urlsafe(16)
            content = {c["type"]: c["value"] for c in body.get("content", [])}
            for personalization in body["personalizations"]:
                for recipient in personalization["to"]:
                    self._messages.append(
                        ReceivedEmail(
                            message_id=message_id,
                            to=recipient["email"],
                            sender=body["from"]["email"],
                            subject=personalization.get("subject") or body.get("subject", ""),
                            text=content.get("text/plain", ""),
                            html=content.get("text/html"),
                            custom_args={
                                **body.get("custom_args", {}),
                                **personalization.get("custom_args", {}),
                            },
                            headers={
                                **body.get("headers", {}),
                                **personalization.get("headers", {}),
                            },
                        )
                    )
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    def _build_app(self) -> FastAPI:
        app = fake_app("SendGrid")

        @app.post("/v3/mail/send")
        async def mail_send(request: Request) -> Response:
            return self._send(request, await json_object(request))

        add_inbox(
            app,
            title="Email inbox (SendGrid sandbox)",
            columns=["When", "From", "To", "Subject", "Text"],
            messages=lambda: self.messages,
            cells=lambda m: [m.received_at, m.sender, m.to, m.subject, m.text],
            clear=self.reset,
        )
        return app


def _validate(body: dict[str, Any]) -> tuple[str, str] | None:
    """What SendGrid would refuse in ``body``: (message, field), or None."""
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not 1 <= len(personalizations) <= 1000:
        return (
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        )
    recipients = 0
    for index, personalization in enumerate(personalizations):
        to = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(to, list) or not to:
            return (
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                f"personalizations.{index}.to",
            )
        if not all(isinstance(r, dict) and "@" in str(r.get("email", "")) for r in to):
            return "Does not contain a valid address.", f"personalizations.{index}.to"
        for key in ("cc", "bcc"):
            recipients += len(personalization.get(key) or [])
        recipients += len(to)
    if recipients > MAX_RECIPIENTS:
        return "The total number of recipients must be no more than 1000.", "personalizations"
    sender = body.get("from")
    if not isinstance(sender, dict) or "@" not in str(sender.get("email", "")):
        return (
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
            "from",
        )
    if body.get("template_id"):
        return None
    subjects = [p.get("subject") for p in personalizations]
    if not body.get("subject") and not all(subjects):
        return (
            "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
            "subject",
        )
    content = body.get("content")
    if not isinstance(content, list) or not content:
        return (
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.",
            "content",
        )
    for block in content:
        if not isinstance(block, dict) or not block.get("type") or not block.get("value"):
            return "The content value must be a string at least one character in length.", "content"
    return None
