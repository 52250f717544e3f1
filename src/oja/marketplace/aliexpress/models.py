"""One AliExpress connection per store: the account and its tokens, sealed at rest.

The tokens are sealed with AES-256-GCM under a key derived from the app secret (the same sealing
as MFA secrets, :func:`oja.identity.digests.seal`): a database dump alone cannot call AliExpress.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oja.core.db import Base, IdMixin, TimestampMixin
from oja.marketplace.tenancy import VendorOwned


class AliExpressConnection(IdMixin, TimestampMixin, VendorOwned, Base):
    __tablename__ = "aliexpress_connection"
    __table_args__ = (UniqueConstraint("vendor_id"),)

    account_id: Mapped[str] = mapped_column(String(64))
    account_name: Mapped[str | None] = mapped_column(String(255))
    access_token_sealed: Mapped[str] = mapped_column(Text)
    refresh_token_sealed: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
