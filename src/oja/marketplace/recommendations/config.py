"""Recommendation settings (``OJA_`` prefix): a section of the runtime's
:class:`~oja.core.config.Settings`."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import SettingsSection


class RecommendationSettings(SettingsSection):
    recommendation_view_batch: int = Field(default=200, ge=1)
    """Product views buffered in an API process before they are written in one INSERT."""
    recommendation_view_flush_seconds: float = Field(default=2.0, ge=0)
    """Age of the oldest buffered view after which the next request's background task writes them."""
    recommendation_history_days: int = Field(default=90, ge=1)
    """Behaviour older than this is ignored by co-occurrence and personal lists."""
    recommendation_subject_items: int = Field(default=30, ge=2)
    """Most recent distinct products per user counted for co-occurrence (bounds the pair count)."""
    recommendation_neighbours: int = Field(default=20, ge=1)
    """Neighbours kept per product and kind (co-occurrence, co-purchase, similar)."""
    recommendation_per_subject: int = Field(default=50, ge=1)
    """Precomputed recommendations kept per user, client id, and for the trending list."""
    recommendation_half_life_days: float = Field(default=14.0, gt=0)
    """Recency: a behaviour event weighs half as much after this many days."""
    recommendation_trending_days: int = Field(default=7, ge=1)
    """Window of the trending list (what a new or anonymous caller gets)."""
