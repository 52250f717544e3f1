"""A Termii-shaped SMS provider: ``POST /api/sms/send`` as documented at developers.termii.com.

It checks the API key and the documented body, records every accepted message, and answers like
Termii. ``GET /messages`` lists what it received (JSON) and ``/`` is a small HTML inbox.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from oja.sandbox.base import add_inbox, fake_app

DEFAULT_API_KEY = "sandbox-termii-api-key"
_NUMBER = re.compile(r"^[1-9][0-9]{7,14}$")
_CHANNELS = {"generic", "dnd", "whatsapp"}


@dataclass(frozen=True, slots=True)
class ReceivedSms:
    message_id: str
    to: str
    sender: str
    text: str
    type: str
    channel: str
    received_at: str

    def as_json(self) -> dict[str, str]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        data["sms"] = data.pop("text")
        return data


class TermiiFake:
    """State and knobs of the fake; ``app`` is the ASGI app to serve.

    Knobs: ``api_key`` (the only key accepted), ``balance`` (decremented per recipient),
    :meth:`fail_next` (the next send answers with the given status and message), :meth:`clear`.
    """

    def __init__(
        self, *, api_key: str = DEFAULT_API_KEY, balance: int = 1000, user: str = "Oja Sandbox"
    ) -> None:
        self.api_key = api_key
        self.balance = balance
        self.user = user
        self._messages: list[ReceivedSms] = []
        self._failures: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self.app = self._build_app()

    @property
    def messages(self) -> list[ReceivedSms]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()

    def fail_next(self, status: int = 500, message: str = "Internal Server Error") -> None:
        """Make the next valid send fail with ``status`` and ``{"message": message}``."""
        with self._lock:
            self._failures.append((status, message))

    def _send(self, body: Any) -> JSONResponse:
        if not isinstance(body, dict):
            return _error(400, "Request body must be a JSON object")
        if body.get("api_key") != self.api_key:
            return _error(401, "Unauthorized: invalid API key")
        recipients = body.get("to")
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not recipients:
            return _error(400, "The to field is required")
        if len(recipients) > 100:
            return _error(400, "The to field may hold at most 100 numbers")
        for number in recipients:
            if not isinstance(number, str) or not _NUMBER.match(number):
                return _error(
                    400, "Phone number must be in the international format e.g. 23490126727"
                )
        sender, text = body.get("from"), body.get("sms")
        if not isinstance(sender, str) or not 3 <= len(sender) <= 11:
            return _error(400, "Invalid Sender Id")
        if not isinstance(text, str) or not text:
            return _error(400, "The sms field is required")
        if body.get("type") != "plain":
            return _error(400, "The type field must be plain")
        channel = body.get("channel")
        if channel not in _CHANNELS:
            return _error(400, "The channel field must be one of dnd, whatsapp, generic")
        with self._lock:
            if self._failures:
                status, message = self._failures.pop(0)
                return _error(status, message)
            if self.balance < len(recipients):
                return _error(400, "Insufficient balance")
            message_id = str(secrets.randbits(63))
            now = dt.datetime.now(dt.UTC).isoformat()
            for number in recipients:
                self._messages.append(
                    ReceivedSms(message_id, number, sender, text, "plain", str(channel), now)
                )
            self.balance -= len(recipients)
            balance = self.balance
        return JSONResponse(
            {
                "message_id": message_id,
                "message": "Successfully Sent",
                "balance": balance,
                "user": self.user,
            }
        )

    def _build_app(self) -> FastAPI:
        app = fake_app("Termii")

        @app.post("/api/sms/send")
        async def send(request: Request) -> JSONResponse:
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "Request body must be JSON")
            return self._send(body)

        add_inbox(
            app,
            title="SMS inbox (Termii sandbox)",
            columns=["When", "From", "To", "Text"],
            messages=lambda: self.messages,
            cells=lambda m: [m.received_at, m.sender, f"+{m.to}", m.text],
            clear=self.clear,
        )

        return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)
