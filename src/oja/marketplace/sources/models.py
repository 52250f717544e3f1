"""The call budget's schedule in the database, for deployments without Redis (the embedded
profile, whose worker runs several processes): one row per app key."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.db import Base


class SourceCallSlot(Base):
    __tablename__ = "source_call_slot"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)
    """Epoch seconds of the key's next free call slot."""
