"""catalog: the product image index carries what the public reads show of an image

``GET /products`` and the product page aggregate each shown product's images in their statement
(``images_json``): the image's id, position, alt text and file, then the file's status, storage
key and rendered sizes. The images came from the ``(product_id, position)`` index and then the
heap: one heap page per image, 26 of the page query's 323 buffers for 20 products on 10,000
seeded products (1.33 images each). With ``id``, ``file_id`` and ``alt_text`` included, the images
are an index-only scan. The file's columns stay a primary-key lookup: its rendered sizes are
~1.3 kB of JSON a file, too wide for an index. ``position`` is already a key column, so an image
update that was HOT stays so unless it changes the alt text. PostgreSQL only: SQLite has no
INCLUDE, its index is unchanged.

Built as ``c25s00000001`` builds its index: the new index first under a temporary name (a
``SHARE`` lock: image writes wait, reads go on), then the old one dropped and the new renamed. On
a catalogue far larger than a build's pause allows, create it beforehand with ``CREATE INDEX
CONCURRENTLY`` under the temporary name, then run this migration: it does not build it again.

Revision ID: c36s00000001
Revises: c25s00000001
Create Date: 2026-12-07 19:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c36s00000001"
down_revision: str | None = "c25s00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_product_image_product_id_position"
BUILDING = "ix_product_image_product_id_position_c36s"
INCLUDE = ["id", "file_id", "alt_text"]


def _swap(include: list[str]) -> None:
    covering = f" INCLUDE ({', '.join(include)})" if include else ""
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {BUILDING} ON product_image (product_id, position){covering}"
    )
    op.execute(f"DROP INDEX {NAME}")
    op.execute(f"ALTER INDEX {BUILDING} RENAME TO {NAME}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _swap(INCLUDE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _swap([])
