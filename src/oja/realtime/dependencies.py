"""Who is watching a stream: a signed-in user's token, or a ticket for clients that cannot send
headers (a browser's ``EventSource``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request

from oja.core.dependencies import RuntimeDep
from oja.identity.dependencies import (
    api_key_scheme,
    get_principal,
    get_signed_in_user,
    oauth2_scheme,
    require_user_principal,
)
from oja.identity.errors import InvalidToken
from oja.realtime import service


async def get_stream_user(
    request: Request,
    runtime: RuntimeDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
    ticket: Annotated[
        str | None,
        Query(description="A `POST /ws/ticket` ticket instead of a token (`EventSource`); once."),
    ] = None,
) -> uuid.UUID:
    """The user of ``?ticket=`` (spent), else of the request's user token, checked as everywhere."""
    if ticket is not None:
        user_id = await service.redeem_ticket(runtime, ticket)
        if user_id is None:
            raise InvalidToken("The ticket is not valid, has expired or was used.")
        return user_id
    principal = await require_user_principal(await get_principal(request, bearer, api_key))
    return (await get_signed_in_user(principal)).id


StreamUser = Annotated[uuid.UUID, Depends(get_stream_user)]
