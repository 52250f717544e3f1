"""Search settings (``OJA_SEARCH_…``)."""

from __future__ import annotations

from pydantic import Field

from oja.core.config import SettingsSection


class SearchSettings(SettingsSection):
    search_cache_ttl: float = Field(default=30.0, ge=0)
    """Seconds a search answer stays cached (0: no caching)."""
    search_price_buckets: tuple[int, ...] = (1_000, 5_000, 10_000, 50_000, 100_000)
    """Upper edges (minor units, exclusive) of the price facet's buckets; the last is open."""
    search_typo_similarity: float = Field(default=0.3, ge=0, le=1)
    """Trigram similarity a vocabulary word needs to stand in for a query word nothing matches."""
    search_facet_sample: int = Field(default=2_000, ge=1)
    """Matched rows the facets count at most; an answer with more matches has facets counted
    over this many of them (``facets_exact: false``), the total and the page still exact."""
