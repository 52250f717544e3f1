"""``Visitor``: who is looking, for recording behaviour and personalising (see :mod:`.recorder`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from oja.identity.dependencies import OptionalPrincipal
from oja.marketplace.recommendations.recorder import subject_of


async def get_visitor(
    principal: OptionalPrincipal,
    x_client_id: Annotated[
        str | None,
        Header(
            description="An anonymous browser's stable id (8–64 of A–Z a–z 0–9 - _), so its views "
            "count and its recommendations follow them; ignored when signed in or malformed."
        ),
    ] = None,
) -> str | None:
    return subject_of(principal.user_id if principal is not None else None, x_client_id)


Visitor = Annotated[str | None, Depends(get_visitor)]
"""The caller's behaviour subject: a user's id, ``c:<client id>``, or None."""
