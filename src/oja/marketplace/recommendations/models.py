"""Behaviour events (append-only) and the precomputed tables requests read.

``behaviour_event`` is written cheaply — views in batches from an in-process buffer, cart adds,
purchases and searches as one row in the unit of work that caused them — and never updated but
for one thing: a sign-in attributes an anonymous browser's rows to the user (``subject``).
``subject`` is the caller: a user's id, or ``c:<client id>`` for an anonymous browser. The periodic
jobs turn events
into ``product_neighbour`` rows (co-occurrence, co-purchase, content similarity) and
``subject_recommendation`` rows (a caller's ranked list; the subject ``*`` is the trending list).
Requests only read those rows, filtering at read time what may have changed since (stock, product
or store status, a purchase).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.clock import utcnow
from oja.core.db import Base, IdMixin, one_of

TRENDING = "*"
"""The ``subject`` of the trending list."""


class BehaviourKind(enum.StrEnum):
    view = "view"
    cart = "cart"
    purchase = "purchase"
    search = "search"
    merge = "merge"
    """A marker: the anonymous history of ``query`` (``c:<client id>``) became the subject's at a
    sign-in (so the next incremental refresh recomputes the subject's list)."""


class NeighbourKind(enum.StrEnum):
    co_occurrence = "co_occurrence"
    """Seen or bought by the same people (views, cart adds and purchases)."""
    co_purchase = "co_purchase"
    """Bought in the same order group."""
    similar = "similar"
    """Nearest by the MiniLM embedding of title and description."""


class BehaviourEvent(IdMixin, Base):
    __tablename__ = "behaviour_event"
    __table_args__ = (
        Index("ix_behaviour_event_created_at", "created_at"),
        Index("ix_behaviour_event_subject_kind_product_id", "subject", "kind", "product_id"),
        # A store's visitors over a few days (the sales report's live days): a short range per
        # product of the store, instead of every store's events of those days once per product.
        Index("ix_behaviour_event_product_id_created_at", "product_id", "created_at"),
    )

    kind: Mapped[str] = mapped_column(one_of(BehaviourKind, name="kind_valid", length=16))
    subject: Mapped[str] = mapped_column(String(80))
    """A user's id, or ``c:<client id>`` for an anonymous caller."""
    product_id: Mapped[uuid.UUID | None]
    """No foreign key: an append-only log outlives products, and an insert checks nothing."""
    group_id: Mapped[uuid.UUID | None]
    """The order group of a purchase (what "bought together" means)."""
    query: Mapped[str | None] = mapped_column(String(200))
    """The text of a search; the merged anonymous subject of a ``merge``."""
    category_id: Mapped[uuid.UUID | None]
    """A search's category: the most counted one of its answer's category facet (what category
    affinity reads). No foreign key, like ``product_id``."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductNeighbour(Base):
    __tablename__ = "product_neighbour"

    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(
        one_of(NeighbourKind, name="kind_valid", length=16), primary_key=True
    )
    rank: Mapped[int] = mapped_column(primary_key=True)
    neighbour_id: Mapped[uuid.UUID]
    score: Mapped[float]


class SubjectRecommendation(Base):
    __tablename__ = "subject_recommendation"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID]
    score: Mapped[float]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductEmbedding(Base):
    """A product's MiniLM vector (float32 bytes) and the hash of the text it was made from."""

    __tablename__ = "product_embedding"

    product_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(100))
    text_hash: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecommendationCursor(Base):
    """How far the incremental refresh has read ``behaviour_event`` (by ``created_at``)."""

    __tablename__ = "recommendation_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime]
