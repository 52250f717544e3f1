"""Chat errors: a stable ``code`` each and an honest status."""

from __future__ import annotations

from oja.core.errors import Conflict, ErrorCode, NotFound, OjaError, UpstreamError


class ChatErrorCode(ErrorCode):
    CHATROOM_NOT_FOUND = "chatroom_not_found"
    MESSAGE_NOT_FOUND = "message_not_found"
    MESSAGE_TOO_LONG = "message_too_long"
    CLIENT_MESSAGE_ID_REUSED = "client_message_id_reused"
    CHAT_GENERATION_FAILED = "chat_generation_failed"


class ChatroomNotFound(NotFound):
    """No such room, or another user's (the same answer, so ids reveal nothing)."""

    code = ChatErrorCode.CHATROOM_NOT_FOUND


class MessageNotFound(NotFound):
    code = ChatErrorCode.MESSAGE_NOT_FOUND


class MessageTooLong(OjaError):
    """The prompt is longer than ``OJA_CHAT_MAX_MESSAGE_CHARS``; ``details.max_chars`` says how long
    it may be."""

    status_code = 422
    code = ChatErrorCode.MESSAGE_TOO_LONG


class ClientMessageIdReused(Conflict):
    """A ``client_message_id`` already names a different prompt in this room."""

    code = ChatErrorCode.CLIENT_MESSAGE_ID_REUSED


class GenerationFailed(UpstreamError):
    """The reply could not be produced (after the provider's retries); the prompt was refunded."""

    code = ChatErrorCode.CHAT_GENERATION_FAILED
