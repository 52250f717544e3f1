"""Named dependencies shared by every module's endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from oja.core.db import unit_of_work
from oja.core.runtime import Runtime

T = TypeVar("T")


def provided(request: Request, provider: Callable[[], T]) -> T:
    """``provider()``, or the stand-in a test put in ``app.dependency_overrides`` for it.

    For cheap settings getters on the hot path: FastAPI runs a plain ``def`` dependency on the
    thread pool (a hop per request), but the getters stay plain functions because code outside
    requests calls them too.
    """
    overrides: dict[Any, Any] = request.app.dependency_overrides
    stand_in: Callable[[], T] = overrides.get(provider, provider)
    return stand_in()


async def get_runtime_dep(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime_dep)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work. ``scope="function"``: it commits before the response is sent,
    so a failed commit is an error response, never a success the database does not hold."""
    async with unit_of_work(runtime.database) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
