"""Named dependencies of the notification routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from oja.channels.config import ChannelSettings
from oja.core.runtime import current_settings


def get_channel_settings() -> ChannelSettings:
    """The providers' settings (keys that verify callbacks); a dependency tests may override."""
    return current_settings().section(ChannelSettings)


ChannelSettingsDep = Annotated[ChannelSettings, Depends(get_channel_settings)]
