"""Request and response bodies of the category and product routes (money in minor units)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from oja.marketplace.catalog.models import ProductStatus
from oja.marketplace.slugs import Slug

CategoryFilter = Annotated[
    str | None, Query(description="Category id or slug; its descendants are included.")
]
"""A listing's ``category`` query parameter (the product listing's and search's)."""
StoreFilter = Annotated[str | None, Query(description="Store id or slug.")]
PriceBound = Annotated[int | None, Query(ge=0, le=10**15, description="Minor units.")]

_ID = "01938f6e-7b1a-7c3e-9a55-3f1f0c2d4e5f"
_ID2 = "01938f6e-8c2b-7d4f-8b66-4a2a1d3e5f60"
MinorUnits = Annotated[int, Field(ge=0, le=10**15, description="Minor units (kobo, cents).")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. NGN.")]
StockStatus = Literal["in_stock", "low", "out"]


def stock_status(stock: int, threshold: int) -> StockStatus:
    """``out`` at zero, ``low`` at or below the threshold, else ``in_stock``."""
    if stock <= 0:
        return "out"
    return "low" if stock <= threshold else "in_stock"


# Categories


class CategoryCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Phones", "slug": "phones", "parent_id": _ID}]},
    )

    name: str = Field(min_length=1, max_length=120)
    slug: Slug | None = Field(default=None, description="Derived from the name when absent.")
    parent_id: uuid.UUID | None = None


class CategoryUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Mobile phones", "parent_id": None}]},
    )

    name: str | None = Field(default=None, min_length=1, max_length=120)
    slug: Slug | None = None
    parent_id: uuid.UUID | None = Field(
        default=None, description="Move under this category; an explicit null makes it a root."
    )


class CategoryRef(BaseModel):
    id: uuid.UUID
    name: str
    slug: str


class CategoryOut(CategoryRef):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": _ID2, "name": "Phones", "slug": "phones", "parent_id": _ID}]
        }
    )

    parent_id: uuid.UUID | None


class CategoryNode(CategoryRef):
    """A category with its whole subtree."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "name": "Electronics",
                    "slug": "electronics",
                    "children": [{"id": _ID2, "name": "Phones", "slug": "phones", "children": []}],
                }
            ]
        }
    )

    children: list[CategoryNode]


class CategoryDetail(CategoryOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID2,
                    "name": "Phones",
                    "slug": "phones",
                    "parent_id": _ID,
                    "ancestors": [{"id": _ID, "name": "Electronics", "slug": "electronics"}],
                    "children": [],
                }
            ]
        }
    )

    ancestors: list[CategoryRef] = Field(description="From the root down: the breadcrumb.")
    children: list[CategoryRef]


# Products and variants


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    options: dict[str, Any] = Field(default_factory=dict, max_length=20)
    price: MinorUnits
    currency: Currency = "NGN"
    compare_at_price: MinorUnits | None = None
    stock: int = Field(default=0, ge=0, le=10**9)
    low_stock_threshold: int = Field(default=5, ge=0, le=10**9)
    weight_grams: int | None = Field(default=None, ge=0, le=10**9)


DEFAULT_VARIANT_FIELDS = (
    "sku",
    "price",
    "currency",
    "compare_at_price",
    "stock",
    "low_stock_threshold",
    "weight_grams",
)
"""Top-level fields of a product created without ``variants``: its one variant's."""


class ProductCreate(BaseModel):
    """A product with its variants, or with the top-level ``sku``/``price`` of its one variant."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Ankara tote bag",
                    "category_id": _ID2,
                    "attributes": {"material": "cotton"},
                    "status": "active",
                    "variants": [
                        {"sku": "TOTE-RED", "options": {"colour": "red"}, "price": 450000},
                        {"sku": "TOTE-BLUE", "options": {"colour": "blue"}, "price": 450000},
                    ],
                },
                {"title": "Zobo, 1 litre", "sku": "ZOBO-1L", "price": 150000, "stock": 40},
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    category_id: uuid.UUID | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=50)
    status: ProductStatus = ProductStatus.draft
    variants: list[VariantIn] | None = Field(default=None, min_length=1, max_length=100)
    sku: str | None = Field(default=None, min_length=1, max_length=64)
    price: MinorUnits | None = None
    currency: Currency | None = None
    compare_at_price: MinorUnits | None = None
    stock: int | None = Field(default=None, ge=0, le=10**9)
    low_stock_threshold: int | None = Field(default=None, ge=0, le=10**9)
    weight_grams: int | None = Field(default=None, ge=0, le=10**9)

    @model_validator(mode="after")
    def variants_or_one(self) -> Self:
        given = {
            name: getattr(self, name)
            for name in DEFAULT_VARIANT_FIELDS
            if getattr(self, name) is not None
        }
        if self.variants is not None:
            if given:
                raise ValueError(
                    f"give variants or the top-level {', '.join(sorted(given))}, not both"
                )
        elif "sku" not in given or "price" not in given:
            raise ValueError("a product without variants needs a top-level sku and price")
        variants = self.all_variants()
        if len({v.currency for v in variants}) > 1:
            raise ValueError("every variant of a product has the same currency")
        if len({v.sku for v in variants}) < len(variants):
            raise ValueError("variant SKUs must differ")
        return self

    def all_variants(self) -> list[VariantIn]:
        if self.variants is not None:
            return self.variants
        fields = {
            name: getattr(self, name)
            for name in DEFAULT_VARIANT_FIELDS
            if getattr(self, name) is not None
        }
        return [VariantIn(**fields)]


class ProductUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "active", "title": "Ankara tote bag, large"}]},
    )

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    category_id: uuid.UUID | None = None
    attributes: dict[str, Any] | None = Field(default=None, max_length=50)
    status: ProductStatus | None = None


class VariantCreate(VariantIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"sku": "TOTE-GREEN", "options": {"colour": "green"}, "price": 450000}]
        },
    )


class VariantUpdate(BaseModel):
    """Stock is changed through the stock route only, where every change is recorded."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"price": 399000, "compare_at_price": 450000}]},
    )

    sku: str | None = Field(default=None, min_length=1, max_length=64)
    options: dict[str, Any] | None = Field(default=None, max_length=20)
    price: MinorUnits | None = None
    currency: Currency | None = None
    compare_at_price: MinorUnits | None = None
    low_stock_threshold: int | None = Field(default=None, ge=0, le=10**9)
    weight_grams: int | None = Field(default=None, ge=0, le=10**9)


class AppliedDiscount(BaseModel):
    ids: list[uuid.UUID] = Field(description="One discount, or several stackable ones.")
    amount: int = Field(description="The saving, in minor units.")


class VariantOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID2,
                    "sku": "TOTE-RED",
                    "options": {"colour": "red"},
                    "price": 450000,
                    "effective_price": 405000,
                    "discount": {"ids": [_ID], "amount": 45000},
                    "currency": "NGN",
                    "compare_at_price": None,
                    "stock": 3,
                    "low_stock_threshold": 5,
                    "stock_status": "low",
                    "weight_grams": 400,
                }
            ]
        }
    )

    id: uuid.UUID
    sku: str
    options: dict[str, Any]
    price: int
    effective_price: int = Field(description="What a buyer pays now, discounts applied.")
    discount: AppliedDiscount | None
    currency: str
    compare_at_price: int | None
    stock: int
    low_stock_threshold: int
    stock_status: StockStatus
    weight_grams: int | None


ImageStatus = Literal["pending", "ready", "failed"]


class ProductImageUrls(BaseModel):
    listing: str | None = Field(description="Fits 640 px (OJA_IMAGE_LISTING_PX): product lists.")
    detail: str | None = Field(description="Fits 1200 px (OJA_IMAGE_DETAIL_PX): product pages.")
    thumbnail: str | None = Field(description="Fits 256 px (OJA_IMAGE_THUMBNAIL_PX).")
    original: str = Field(description="The uploaded bytes, as they came.")


class ProductImageOut(BaseModel):
    """URLs are signed and expire (OJA_SIGNED_URL_TTL); they are present once the image is
    ``ready`` and null while it is ``pending`` (being processed) or ``failed``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "position": 0,
                    "alt_text": "The red tote, front",
                    "status": "ready",
                    "urls": {
                        "listing": "https://cdn.example/listing.jpg?sig=…",
                        "detail": "https://cdn.example/detail.jpg?sig=…",
                        "thumbnail": "https://cdn.example/thumbnail.jpg?sig=…",
                        "original": "https://cdn.example/original?sig=…",
                    },
                }
            ]
        }
    )

    id: uuid.UUID
    position: int = Field(description="Images are shown by position, then by age.")
    alt_text: str | None
    status: ImageStatus
    urls: ProductImageUrls | None


class ProductImageUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"position": 0, "alt_text": "The red tote, front"}]},
    )

    position: int | None = Field(default=None, ge=0, le=10_000)
    alt_text: str | None = Field(default=None, max_length=500)


class ProductOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "vendor_id": _ID2,
                    "title": "Zobo, 1 litre",
                    "description": None,
                    "category_id": None,
                    "attributes": {},
                    "status": "active",
                    "price": 150000,
                    "effective_price": 135000,
                    "currency": "NGN",
                    "in_stock": True,
                    "variants": [
                        {
                            "id": _ID2,
                            "sku": "ZOBO-1L",
                            "options": {},
                            "price": 150000,
                            "effective_price": 135000,
                            "discount": {"ids": [_ID], "amount": 15000},
                            "currency": "NGN",
                            "compare_at_price": None,
                            "stock": 40,
                            "low_stock_threshold": 5,
                            "stock_status": "in_stock",
                            "weight_grams": None,
                        }
                    ],
                    "created_at": "2026-12-06T08:00:00Z",
                    "updated_at": "2026-12-06T08:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    vendor_id: uuid.UUID
    title: str
    description: str | None
    category_id: uuid.UUID | None
    attributes: dict[str, Any]
    status: ProductStatus
    price: int = Field(description="The lowest variant price, in minor units.")
    effective_price: int = Field(description="The lowest price a buyer pays now.")
    currency: str
    in_stock: bool
    variants: list[VariantOut]
    images: list[ProductImageOut] = Field(
        default_factory=list, description="By position; URLs once processed."
    )
    created_at: datetime
    updated_at: datetime


class PriceChangeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "variant_id": _ID2,
                    "old_price": 450000,
                    "new_price": 399000,
                    "old_compare_at_price": None,
                    "new_compare_at_price": 450000,
                    "currency": "NGN",
                    "created_at": "2026-12-06T08:00:00Z",
                }
            ]
        }
    )

    variant_id: uuid.UUID
    old_price: int | None = Field(description="Null on the variant's first price.")
    new_price: int
    old_compare_at_price: int | None
    new_compare_at_price: int | None
    currency: str
    created_at: datetime


ProductSort = Literal["newest", "price_asc", "price_desc"]
