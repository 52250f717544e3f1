"""Realtime routes: a WebSocket ticket, the WebSocket, and an order's server-sent events."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, WebSocket
from fastapi.responses import StreamingResponse

from oja.core.dependencies import RuntimeDep, SessionDep
from oja.core.errors import errors
from oja.identity.dependencies import USER_ERRORS, SignedInUser
from oja.realtime import connections, service
from oja.realtime.config import RealtimeSettings
from oja.realtime.dependencies import StreamUser
from oja.realtime.errors import StreamNotFound
from oja.realtime.schemas import TicketOut

router = APIRouter(tags=["realtime"])


@router.post(
    "/ws/ticket",
    summary="A single-use ticket for `/ws?ticket=…`, valid `expires_in` seconds",
    responses=errors(*USER_ERRORS),
)
async def ws_ticket(user: SignedInUser, db: SessionDep, runtime: RuntimeDep) -> TicketOut:
    ticket = service.issue_ticket(db, runtime, user.id)
    return TicketOut(ticket=ticket.ticket, expires_in=ticket.expires_in)


@router.websocket("/ws")
async def ws(
    websocket: WebSocket, ticket: str | None = None, last_event_id: int | None = None
) -> None:
    """Events for the caller (``user:<id>``) and the stores it staffs, as JSON
    ``{id, event, data, created_at}``; see the README's "Realtime" section."""
    runtime = websocket.app.state.runtime
    await connections.serve(websocket, runtime, ticket=ticket, last_event_id=last_event_id)


@router.get(
    "/orders/{order_id}/events",
    response_class=StreamingResponse,
    summary="An order's updates as server-sent events; `Last-Event-ID` resumes",
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": 'id: 42\nevent: order.updated\ndata: {"status":"shipped"}\n\n',
                }
            },
            "description": "One event per change; `: keepalive` comments while idle.",
        },
        **errors(*USER_ERRORS, StreamNotFound),
    },
)
async def order_events(
    order_id: uuid.UUID,
    user_id: StreamUser,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id.")] = None,
    resume_after: Annotated[
        int | None,
        Query(
            alias="last_event_id",
            ge=0,
            description="The same, for a new `EventSource` (which cannot set the header).",
        ),
    ] = None,
) -> StreamingResponse:
    topic = f"order:{order_id}"
    await service.authorize(runtime, user_id, topic)
    header = last_event_id.strip() if last_event_id else ""
    after = int(header) if header.isdigit() else resume_after
    keepalive = runtime.settings.section(RealtimeSettings).realtime_keepalive
    return StreamingResponse(
        connections.event_stream(runtime, topic, after, keepalive),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
