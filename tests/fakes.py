"""Serving a provider fake over real HTTP for a fixture's lifetime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

from oja.sandbox.server import SandboxServer


class HasApp(Protocol):
    @property
    def app(self) -> Any: ...


F = TypeVar("F", bound=HasApp)


def serving(fake: F) -> Iterator[tuple[F, str]]:
    """``yield from serving(GeminiFake())`` in a fixture: the fake and its base URL while it runs."""
    with SandboxServer(fake.app) as server:
        yield fake, server.url
