"""What the fakes share: the app factory, the ``with`` lifecycle, the request gate's pieces (bearer
key, JSON body, scripted failures and the call log) and the inbox routes.

Each fake keeps its own routes, its provider's error body and its knobs; only these mechanics live
here, so that every fake starts, refuses and records the same way.
"""

from __future__ import annotations

import html
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from oja.sandbox.pages import table_page


def fake_app(title: str) -> FastAPI:
    """A fake's ASGI app: its provider's routes only, no docs and no OpenAPI of its own."""
    return FastAPI(title=f"Sandbox: {title}", docs_url=None, redoc_url=None, openapi_url=None)


class Lifecycle:
    """``with thing:`` starts it and stops it, whatever happens inside."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def bearer_token(request: Request) -> str:
    """The key of ``Authorization: Bearer <key>`` (the scheme in any case); "" without one."""
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else ""


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request body as a JSON object; None when it is not JSON or not an object."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@dataclass
class Failure:
    """One scripted refusal: the status, the seconds a client is told to wait, the message."""

    status: int
    retry_after: float | None = None
    message: str | None = None


CallT = TypeVar("CallT")


class ScriptedFailures(Generic[CallT]):
    """The knobs and log of a fake whose authorised calls can be made to fail.

    :meth:`_next_failure` hands out the queued failures first, then the standing one; every call the
    gate sees is appended to :attr:`calls`. State sits behind ``_lock`` (fakes serve from threads).
    """

    def __init__(self, api_key: str, *, latency: float = 0.0) -> None:
        self.api_keys = {api_key}
        self.latency = latency
        """Seconds every answer is delayed."""
        self.calls: list[CallT] = []
        self._failures: deque[Failure] = deque()
        self._fail_always: Failure | None = None
        self._lock = threading.Lock()

    def _fail_next(self, count: int, failure: Failure) -> None:
        with self._lock:
            self._failures.extend(failure for _ in range(count))

    def fail_always(self, status: int = 500, message: str | None = None) -> None:
        """Every authorised call fails until :meth:`reset`."""
        with self._lock:
            self._fail_always = Failure(status, None, message)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._fail_always = None
            self.calls.clear()
            self._reset_more()

    def _reset_more(self) -> None:
        """What a subclass forgets besides the failures and the log (called under the lock)."""

    def _next_failure(self) -> Failure | None:
        """The failure this call meets, if any; call it under ``_lock``."""
        return self._failures.popleft() if self._failures else self._fail_always


class SecretKeyApi:
    """The gate of a payment fake: one ``Authorization: Bearer <secret_key>``, the calls it lets
    through counted by name in :attr:`calls`, and :meth:`fail_next`."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.calls: Counter[str] = Counter()
        self._failures = 0
        self._lock = threading.Lock()

    def fail_next(self, times: int = 1) -> None:
        """The next ``times`` API calls answer 500."""
        self._failures += times

    def _admit(self, request: Request, name: str) -> int | None:
        """None to serve the call, else the status to refuse it with: 401 for a wrong key (not
        counted), 500 for a scripted failure (counted)."""
        if request.headers.get("authorization") != f"Bearer {self.secret_key}":
            return 401
        self.calls[name] += 1
        if self._failures > 0:
            self._failures -= 1
            return 500
        return None


class Received(Protocol):
    def as_json(self) -> dict[str, Any]: ...


def add_inbox(
    app: FastAPI,
    *,
    title: str,
    columns: Sequence[str],
    messages: Callable[[], Sequence[Received]],
    cells: Callable[[Any], Sequence[str]],
    clear: Callable[[], None],
) -> None:
    """``GET /messages`` (JSON), ``DELETE /messages`` and ``/``, an HTML table, newest first."""

    @app.get("/messages")
    async def listing() -> dict[str, list[dict[str, Any]]]:
        return {"messages": [m.as_json() for m in messages()]}

    @app.delete("/messages", status_code=204)
    async def forget() -> None:
        clear()

    @app.get("/", response_class=HTMLResponse)
    async def inbox() -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells(m)) + "</tr>"
            for m in reversed(messages())
        )
        return table_page(title, list(columns), rows)
