"""Chat errors: a stable ``code`` each and an honest status."""

from __future__ import annotations

from oja.core.errors import Conflict, NotFound, UpstreamError


class ChatroomNotFound(NotFound):
    """No such room, or another user's (the same answer, so ids reveal nothing)."""

    code = "chatroom_not_found"


class MessageNotFound(NotFound):
    code = "message_not_found"


class ClientMessageIdReused(Conflict):
    """A ``client_message_id`` already names a different prompt in this room."""

    code = "client_message_id_reused"


class GenerationFailed(UpstreamError):
    """The reply could not be produced (after the provider's retries); the prompt was refunded."""

    code = "chat_generation_failed"
