"""Recommendation answers."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RecommendedProduct(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193a1b2-0000-7000-8000-000000000001",
                    "title": "Ofada rice, 5 kg",
                    "vendor_id": "0193a1b2-0000-7000-8000-0000000000aa",
                    "category_id": "0193a1b2-0000-7000-8000-0000000000c1",
                    "score": 0.82,
                }
            ]
        }
    )

    id: uuid.UUID
    title: str
    vendor_id: uuid.UUID
    category_id: uuid.UUID | None
    score: float = Field(description="Higher is closer; comparable within one answer only.")


class RecommendationList(BaseModel):
    strategy: Literal["personal", "trending", "co_occurrence", "co_purchase", "similar"] = Field(
        description="`personal`: from your history; `trending`: what is popular now (a new or "
        "anonymous caller); otherwise the product-to-product list asked for."
    )
    items: list[RecommendedProduct]
