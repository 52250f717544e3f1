"""Issue 25: the public reads' images come from the product image index alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from oja.marketplace.catalog import repository

INDEX = "ix_product_image_product_id_position"


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_the_images_json_reads_only_columns_of_the_image_index(app: Any) -> None:
    """``images_json`` (the listing's and the product page's images) reads the image rows by
    ``product_id``; every image column it reads is in the index (``id``, ``file_id``, ``alt_text``
    included by c36s00000001), so the images are an index-only scan, not a heap page an image
    (26 of the listing page's 323 buffers on 10,000 seeded products). A column added to the
    JSON must be added to the index too."""
    subquery = repository.images_json("postgresql", repository.Product.id)
    sql = str(subquery.compile(dialect=postgresql.dialect()))
    read = set(re.findall(r"listing_image\.(\w+)", sql))
    async with app.state.runtime.database.engine.connect() as conn:
        definition = (
            await conn.execute(
                text("SELECT pg_get_indexdef(CAST(:name AS regclass))"), {"name": INDEX}
            )
        ).scalar_one()
    match = re.fullmatch(r".* USING btree \((.*)\) INCLUDE \((.*)\)", definition)
    assert match is not None, definition
    keys = [column.strip().strip('"') for column in match[1].split(",")]
    included = {column.strip().strip('"') for column in match[2].split(",")}
    assert keys == ["product_id", "position"], definition
    assert included == {"id", "file_id", "alt_text"}, definition
    assert read == {"id", "position", "alt_text", "file_id", "product_id"}, sql
    assert read <= set(keys) | included, (read, definition)
