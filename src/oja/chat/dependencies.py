"""Named dependencies of the chat routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from oja.chat.config import ChatSettings, get_chat_settings

ChatSettingsDep = Annotated[ChatSettings, Depends(get_chat_settings)]
