"""A Twilio Programmable Messaging fake, from marketplace-apis.md §4.2.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` checks HTTP Basic auth (Account SID and Auth
Token; 401 with Twilio's error 20003 otherwise) and the form-encoded, PascalCase body: ``To`` in E.164
(21211 otherwise), ``From`` or ``MessagingServiceSid`` (21603), ``Body`` of 1 to 1,600 characters
(21602 / 21617). It answers **201** with the Message resource (snake_case JSON, status ``queued``) and
errors as ``{"code", "message", "more_info", "status"}``. ``GET …/Messages/{Sid}.json`` fetches one.

Status callbacks: :meth:`TwilioFake.send_status` POSTs ``MessageSid``, ``MessageStatus``,
``AccountSid``, ``From``, ``To`` (and ``ErrorCode``) form-encoded to the message's ``StatusCallback``,
signed as Twilio signs: ``X-Twilio-Signature`` = base64 HMAC-SHA1, keyed with the Auth Token, of the
URL followed by every parameter name and value sorted by name (:func:`signature`). Like Twilio, no
callback is sent for the initial status.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from oja.core.http import tls_context
from oja.sandbox.base import Failure, ScriptedFailures, add_inbox, fake_app

DEFAULT_ACCOUNT_SID = "AC" + "0a1b2c3d4e5f" * 2 + "0a1b2c3d"
DEFAULT_AUTH_TOKEN = "oja-sandbox-twilio-auth-token"  # noqa: S105 (a fake's public test value)
DEFAULT_FROM = "+15005550006"
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
MAX_BODY = 1600


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """``X-Twilio-Signature`` of a POST to ``url`` with form ``params``."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Call:
    path: str
    status: int


@dataclass
class Message:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str | None
    status: str = "queued"
    error_code: int | None = None
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    callbacks: list[tuple[str, int | None]] = field(default_factory=list)
    """``(status, callback answer)`` for every status callback sent (None: unreachable)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.sender,
            "body": self.body,
            "status": self.status,
            "received_at": self.created.isoformat(),
        }


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


class TwilioFake(ScriptedFailures[Call]):
    """State and knobs; ``app`` is the ASGI app to serve. Knobs: :meth:`fail_next`,
    :meth:`fail_always`, :meth:`reset`, :meth:`send_status`."""

    def __init__(
        self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN
    ) -> None:
        super().__init__(auth_token)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._messages: dict[str, Message] = {}
        self.app = self._build_app()

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages.values())

    def fail_next(self, count: int = 1, *, status: int = 500, message: str | None = None) -> None:
        """The next ``count`` authorised creates answer ``status`` (Twilio's error shape)."""
        self._fail_next(count, Failure(status, None, message))

    def _reset_more(self) -> None:
        self._messages.clear()

    async def send_status(
        self, sid: str, status: str, *, error_code: int | None = None
    ) -> int | None:
        """Move message ``sid`` to ``status`` and POST the signed callback; the answer's status."""
        with self._lock:
            message = self._messages[sid]
            message.status, message.error_code = status, error_code
        if not message.status_callback:
            return None
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": message.sender,
            "To": message.to,
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        headers = {
            "X-Twilio-Signature": signature(self.auth_token, message.status_callback, params)
        }
        answer: int | None = None
        try:
            async with httpx.AsyncClient(timeout=30, verify=tls_context()) as client:
                response = await client.post(message.status_callback, data=params, headers=headers)
            answer = response.status_code
        except httpx.HTTPError:
            answer = None
        message.callbacks.append((status, answer))
        return answer

    def _authorised(self, request: Request, account_sid: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (
            hmac.compare_digest(user, self.account_sid)
            and hmac.compare_digest(password, self.auth_token)
            and account_sid == self.account_sid
        )

    def _resource(self, message: Message) -> dict[str, Any]:
        created = format_datetime(message.created)
        return {
            "sid": message.sid,
            "account_sid": self.account_sid,
            "messaging_service_sid": message.sender if message.sender.startswith("MG") else None,
            "from": None if message.sender.startswith("MG") else message.sender,
            "to": message.to,
            "body": message.body,
            "status": message.status,
            "num_segments": str(max(1, -(-len(message.body) // 160))),
            "num_media": "0",
            "direction": "outbound-api",
            "price": None,
            "price_unit": "USD",
            "error_code": message.error_code,
            "error_message": None,
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}.json",
            "subresource_uris": {},
        }

    def _create(self, form: dict[str, str]) -> Response:
        to, body = form.get("To", ""), form.get("Body", "")
        sender = form.get("MessagingServiceSid") or form.get("From", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        number = to.removeprefix("whatsapp:")
        if not _E164.match(number):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        path = "Messages.json"
        with self._lock:
            failure = self._next_failure()
            if failure is not None:
                self.calls.append(Call(path, failure.status))
                return _error(
                    failure.status,
                    20500 if failure.status >= 500 else 20429,
                    failure.message or "Service unavailable",
                )
            self.calls.append(Call(path, 201))
            message = Message(
                sid="SM" + secrets.token_hex(16),
                to=to,
                sender=sender,
                body=body,
                status_callback=form.get("StatusCallback") or None,
            )
            self._messages[message.sid] = message
            resource = self._resource(message)
        return JSONResponse(resource, status_code=201)

    def _build_app(self) -> FastAPI:
        app = fake_app("Twilio")
        base = "/2010-04-01/Accounts/{account_sid}"

        @app.post(base + "/Messages.json")
        async def create(account_sid: str, request: Request) -> Response:
            if not self._authorised(request, account_sid):
                with self._lock:
                    self.calls.append(Call("Messages.json", 401))
                return _error(401, 20003, "Authenticate")
            form = await request.form()
            return self._create({k: str(v) for k, v in form.items()})

        @app.get(base + "/Messages/{sid}.json")
        async def fetch(account_sid: str, sid: str, request: Request) -> Response:
            if not self._authorised(request, account_sid):
                return _error(401, 20003, "Authenticate")
            with self._lock:
                message = self._messages.get(sid)
                if message is None:
                    return _error(
                        404, 20404, f"The requested resource {request.url.path} was not found"
                    )
                return JSONResponse(self._resource(message))

        add_inbox(
            app,
            title="SMS inbox (Twilio sandbox)",
            columns=["When", "From", "To", "Status", "Body"],
            messages=lambda: self.messages,
            cells=lambda m: [m.created.isoformat(), m.sender, m.to, m.status, m.body],
            clear=self.reset,
        )
        return app
