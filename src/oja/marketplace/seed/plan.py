"""The generated marketplace as rows: every value drawn from one ``random.Random(seed)``.

Nothing here touches a database: :func:`build` returns the rows of each table (in insertion
order), the pictures to render, and the paid groups and refunds for the ledger to book. Ids are
derived from the seed (``sha256(seed|kind|index)``), timestamps from ``config.now``, so the same
configuration always yields the same rows.

Stock never goes below zero at any moment: a checkout takes only units still *available*
(initial stock minus what earlier checkouts took); units coming back (a cancellation, a received
return) raise the level but are not offered again, because they come back later in time than the
checkouts drawn after them.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from oja.core.db import Base
from oja.identity.models import User, UserRole
from oja.marketplace.catalog.models import (
    Category,
    PriceChange,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
)
from oja.marketplace.inventory.models import StockMovement
from oja.marketplace.orders.models import OrderStatus
from oja.marketplace.seed import words
from oja.marketplace.vendors.models import StaffRole, Vendor, VendorMember, VendorStatusChange

EMAIL_DOMAIN = "seed.example.com"
"""Seeded people sign in as ``buyer<i>@…`` and ``owner<i>@…`` with :data:`PASSWORD`."""
PASSWORD = "oja-seed-password"  # noqa: S105 - a documented demo password, not a secret
MAX_PICTURES = 300
PROVIDER = "paystack"
INITIAL_REASON = "initial stock"  # as the catalogue writes it when a variant is created

# Store-order fates of paid groups (the first groups walk them all, so a small seed has each).
FATES = (
    (OrderStatus.confirmed, 20),
    (OrderStatus.shipped, 15),
    (OrderStatus.delivered, 38),
    (OrderStatus.canceled, 12),
    (OrderStatus.returned, 10),
)
UNPAID_SHARE = 0.06
"""Groups left awaiting payment (their store orders ``pending``, stock reserved)."""


@dataclass(frozen=True)
class SeedConfig:
    now: datetime
    """Every timestamp is relative to it (pass the same one to seed two databases alike)."""
    products: int = 10_000
    vendors: int = 50
    buyers: int = 2_000
    seed: int = 42
    currency: str = "NGN"
    reservation_minutes: int = 30

    def __post_init__(self) -> None:
        if self.products < 1 or self.vendors < 1 or self.buyers < 1:
            raise ValueError("products, vendors and buyers must each be at least 1")


@dataclass(frozen=True)
class Picture:
    file_id: uuid.UUID
    owner_id: uuid.UUID
    index: int


@dataclass(frozen=True)
class RefundToBook:
    """The keyword arguments of the ledger's ``book_refund`` for one processed refund."""

    refund_id: uuid.UUID
    vendor_id: uuid.UUID
    order_id: uuid.UUID
    source: str
    source_id: uuid.UUID
    amount: int


@dataclass
class Plan:
    config: SeedConfig
    rows: dict[type[Base], list[dict[str, Any]]] = field(default_factory=dict)
    pictures: list[Picture] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    """References of the paid groups, for the ledger to book in this order."""
    refunds: list[RefundToBook] = field(default_factory=list)

    @property
    def marker(self) -> uuid.UUID:
        """The first store's id: a database holding it was seeded with this seed already."""
        return ident(self.config.seed, "vendor", 0)

    def add(self, model: type[Base], row: dict[str, Any]) -> dict[str, Any]:
        self.rows.setdefault(model, []).append(row)
        return row

    def count(self, model: type[Base]) -> int:
        return len(self.rows.get(model, []))


def ident(seed: int, kind: str, index: object) -> uuid.UUID:
    """A stable id for the ``index``-th ``kind`` of ``seed`` (version-4 shaped)."""
    digest = hashlib.sha256(f"{seed}|{kind}|{index}".encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


@dataclass
class _Variant:
    id: uuid.UUID
    product_id: uuid.UUID
    vendor_id: uuid.UUID
    title: str
    sku: str
    options: dict[str, str]
    price: int
    available: int


class Builder:
    def __init__(self, config: SeedConfig, password_hash: str) -> None:
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - generated demo data, not security
        self.plan = Plan(config)
        self.password_hash = password_hash
        self.now = config.now
        self.levels: dict[uuid.UUID, int] = {}
        self.movements: list[dict[str, Any]] = []
        self.variants_of: dict[uuid.UUID, list[_Variant]] = defaultdict(list)

    def id(self, kind: str, index: object) -> uuid.UUID:
        return ident(self.config.seed, kind, index)

    def ago(self, low_days: float, high_days: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(low_days, high_days))

    # --- people, categories, stores --------------------------------------------------------

    def user(self, kind: str, index: int, name: str, at: datetime) -> uuid.UUID:
        user_id = self.id(kind, index)
        self.plan.add(
            User,
            {
                "id": user_id,
                "email": f"{kind}{index}@{EMAIL_DOMAIN}",
                "name": name,
                "password_hash": self.password_hash,
                "is_active": True,
                "email_verified_at": at,
                "password_changed_at": at,
                "created_at": at,
                "updated_at": at,
            },
        )
        self.plan.add(UserRole, {"user_id": user_id, "role": "buyer", "created_at": at})
        return user_id

    def categories(self) -> list[tuple[uuid.UUID, str]]:
        """Insert the tree; the leaves as (id, root name), where products go."""
        leaves = []
        at = self.now - timedelta(days=400)
        for root, children in words.CATEGORIES.items():
            root_id = self.id("category", root)
            self.plan.add(Category, self._category(root_id, root, None, f"/{root_id}/", at))
            for child in children:
                child_id = self.id("category", f"{root}/{child}")
                slug = f"{root}-{child}"
                path = f"/{root_id}/{child_id}/"
                self.plan.add(Category, self._category(child_id, child, root_id, path, at, slug))
                leaves.append((child_id, root))
        return leaves

    @staticmethod
    def _category(  # noqa: PLR0917
        id_: uuid.UUID,
        name: str,
        parent: uuid.UUID | None,
        path: str,
        at: datetime,
        slug: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": id_,
            "name": name,
            "slug": words.slug(slug or name),
            "parent_id": parent,
            "path": path,
            "created_at": at,
            "updated_at": at,
        }

    def stores(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Insert the stores and their owners; the approved ones as (vendor id, owner id)."""
        count = self.config.vendors
        pending = max(1, count // 10) if count >= 2 else 0  # a few waiting for approval
        approved = []
        for i in range(count):
            at = self.ago(380, 420)
            name = words.store_name(self.rng, i)
            owner = self.user("owner", i, f"{name} Owner", at)
            vendor_id = self.id("vendor", i)
            status = "pending" if i >= count - pending else "approved"
            self.plan.add(
                Vendor,
                {
                    "id": vendor_id,
                    "name": name,
                    "slug": f"{words.slug(name)}-{i}",
                    "description": f"{name}: {self.rng.choice(words.TAGLINES)}",
                    "contact_email": f"owner{i}@{EMAIL_DOMAIN}",
                    "phone": f"+23480{self.rng.randrange(10_000_000, 99_999_999)}",
                    "address": f"{self.rng.randrange(1, 200)} {self.rng.choice(words.STREETS)}",
                    "status": status,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            self.plan.add(
                VendorMember,
                {
                    "vendor_id": vendor_id,
                    "user_id": owner,
                    "role": str(StaffRole.owner),
                    "created_at": at,
                },
            )
            if status == "approved":
                self.plan.add(
                    VendorStatusChange,
                    {
                        "id": self.id("vendor_status", i),
                        "vendor_id": vendor_id,
                        "from_status": "pending",
                        "to_status": "approved",
                        "reason": "seeded",
                        "created_at": at + timedelta(hours=2),
                    },
                )
                approved.append((vendor_id, owner))
        return approved

    # --- catalogue ---------------------------------------------------------------------------

    def pictures(
        self, stores: list[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        """A few hundred distinct pictures at most, each owned by one store's owner."""
        count = min(MAX_PICTURES, max(len(stores), self.config.products // 20))
        by_store: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for j in range(count):
            vendor_id, owner = stores[j % len(stores)]
            picture = Picture(self.id("file", j), owner, j)
            self.plan.pictures.append(picture)
            by_store[vendor_id].append(picture.file_id)
        return by_store

    def catalogue(
        self,
        stores: list[tuple[uuid.UUID, uuid.UUID]],
        leaves: list[tuple[uuid.UUID, str]],
        pictures: dict[uuid.UUID, list[uuid.UUID]],
    ) -> None:
        for p in range(self.config.products):
            # Every store gets a product first; then stores are drawn at random.
            which = p if p < len(stores) else self.rng.randrange(len(stores))
            vendor_id = stores[which][0]
            category_id, root = self.rng.choice(leaves)
            at = self.ago(61, 365)  # before every order (the last 60 days)
            title, attributes = words.product(self.rng, root, p)
            product_id = self.id("product", p)
            status = ProductStatus.draft if self.rng.random() < 0.02 else ProductStatus.active
            self.plan.add(
                Product,
                {
                    "id": product_id,
                    "vendor_id": vendor_id,
                    "title": title,
                    "description": words.description(self.rng, title, attributes),
                    "category_id": category_id,
                    "attributes": attributes,
                    "status": str(status),
                    "created_at": at,
                    "updated_at": at,
                },
            )
            self.variants(p, product_id, vendor_id, root, title, at, status)
            files = pictures[vendor_id]
            for position in range(self.rng.choice((1, 1, 2))):
                self.plan.add(
                    ProductImage,
                    {
                        "id": self.id("image", f"{p}/{position}"),
                        "vendor_id": vendor_id,
                        "product_id": product_id,
                        "file_id": files[(p + position) % len(files)],
                        "position": position,
                        "alt_text": title,
                        "created_at": at,
                        "updated_at": at,
                    },
                )

    def variants(  # noqa: PLR0917
        self,
        p: int,
        product_id: uuid.UUID,
        vendor_id: uuid.UUID,
        root: str,
        title: str,
        at: datetime,
        status: ProductStatus,
    ) -> None:
        axis, values = words.option_axis(root)
        base = self.rng.randrange(5, 2_000) * 100 * self.rng.choice((1, 5, 10))
        for v, value in enumerate(self.rng.sample(values, self.rng.choice((1, 1, 2, 3)))):
            variant_id = self.id("variant", f"{p}/{v}")
            price = base + v * 50_000
            stock = 0 if self.rng.random() < 0.04 else self.rng.randrange(5, 150)
            sku = f"SD-{p:05d}-{v}"
            compare_at = price * 6 // 5 if self.rng.random() < 0.2 else None
            self.plan.add(
                ProductVariant,
                {
                    "id": variant_id,
                    "vendor_id": vendor_id,
                    "product_id": product_id,
                    "sku": sku,
                    "options": {axis: value},
                    "price": price,
                    "currency": self.config.currency,
                    "compare_at_price": compare_at,
                    "stock": stock,  # the final level is set after the orders (see build)
                    "low_stock_threshold": 5,
                    "weight_grams": self.rng.randrange(100, 5_000),
                    "created_at": at,
                    "updated_at": at,
                },
            )
            self.plan.add(
                PriceChange,
                {
                    "id": self.id("price_change", f"{p}/{v}"),
                    "vendor_id": vendor_id,
                    "product_id": product_id,
                    "variant_id": variant_id,
                    "old_price": None,
                    "new_price": price,
                    "old_compare_at_price": None,
                    "new_compare_at_price": compare_at,
                    "currency": self.config.currency,
                    "created_at": at,
                },
            )
            self.levels[variant_id] = 0
            if stock:
                self.move(vendor_id, variant_id, stock, INITIAL_REASON, at)
            if status == ProductStatus.active:
                self.variants_of[vendor_id].append(
                    _Variant(
                        variant_id, product_id, vendor_id, title, sku, {axis: value}, price, stock
                    )
                )

    def move(
        self, vendor_id: uuid.UUID, variant_id: uuid.UUID, delta: int, reason: str, at: datetime
    ) -> None:
        self.levels[variant_id] += delta
        self.movements.append(
            {
                "id": self.id("movement", len(self.movements)),
                "vendor_id": vendor_id,
                "variant_id": variant_id,
                "reason": reason,
                "delta": delta,
                "created_at": at,
            }
        )

    def stock_rows(self) -> None:
        """Movements in time order per variant, each with its level before and after."""
        running: dict[uuid.UUID, int] = defaultdict(int)
        for row in sorted(self.movements, key=lambda m: (m["created_at"], m["id"])):
            before = running[row["variant_id"]]
            running[row["variant_id"]] = after = before + row["delta"]
            self.plan.add(StockMovement, {**row, "stock_before": before, "stock_after": after})
        for variant in self.plan.rows[ProductVariant]:
            variant["stock"] = self.levels[variant["id"]]
