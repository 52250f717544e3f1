"""Named dependencies of the chat routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from oja.chat.config import ChatSettings, get_chat_settings


async def chat_settings() -> ChatSettings:
    # Async so that `GET /chatroom` does not hop to the thread pool for a cached value; tests
    # replace the settings through `oja.chat.config`'s setter, which this reads.
    return get_chat_settings()


ChatSettingsDep = Annotated[ChatSettings, Depends(chat_settings)]
