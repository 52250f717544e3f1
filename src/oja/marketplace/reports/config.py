"""Report settings (``OJA_REPORTS_`` prefix): a section of the runtime's
:class:`~oja.core.config.Settings`."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from oja.core.config import SettingsSection
from oja.core.dependencies import RuntimeDep


class ReportSettings(SettingsSection):
    model_config = SettingsConfigDict(
        env_prefix="OJA_REPORTS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    time_zone: str = "Africa/Lagos"
    """IANA time zone of the stores that set none of their own (``PATCH /vendors/me``
    ``time_zone``): the calendar days their daily rollups count in, and their sales reports'
    default ``tz``. A report asked in another zone than the store's is computed from the raw order
    and ledger rows instead."""
    recompute_days: int = Field(default=3, ge=1, le=400)
    """Closed days the rollup job recomputes on each run (today is always computed live), so rows
    that arrive late — a refund webhook processed after midnight — land in their day."""
    max_range_days: int = Field(default=366, ge=1)
    """Longest from–to range one sales report may cover."""
    top_items: int = Field(default=10, ge=1, le=100)
    """Products and categories listed in a report's top lists."""
    performance_days: int = Field(default=30, ge=1, le=366)
    """Days (ending today) the performance figures are measured over."""
    on_time_days: int = Field(default=7, ge=1)
    """A store order is delivered on time when it is delivered within this many days of its
    confirmation."""
    min_conversion: float = Field(default=0.01, ge=0, le=1)
    """Below this conversion (orders ÷ visitors) a store is flagged ``below_threshold``."""
    max_cancellation_rate: float = Field(default=0.05, ge=0, le=1)
    """Above this share of paid orders canceled a store is flagged."""
    max_return_rate: float = Field(default=0.1, ge=0, le=1)
    """Above this share of paid orders returned a store is flagged."""
    min_on_time_rate: float = Field(default=0.9, ge=0, le=1)
    """Below this share of deliveries on time a store is flagged."""
    min_average_rating: float = Field(default=3.5, ge=1, le=5)
    """Below this average review rating a store is flagged."""
    max_fulfilment_p90_hours: float = Field(default=72.0, gt=0)
    """Above this 90th percentile of hours from confirmed to shipped a store is flagged."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


def known_zone(value: str) -> str:
    """``value`` if zoneinfo knows it as an IANA time zone, else ValueError (a 422 in a body)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


async def get_report_settings(runtime: RuntimeDep) -> ReportSettings:
    """The reports section of the app's settings; jobs read ``ctx.runtime.settings`` instead."""
    return runtime.settings.section(ReportSettings)


ReportSettingsDep = Annotated[ReportSettings, Depends(get_report_settings)]
