"""Storage keys: derived from ids only, never from anything a client sent."""

from __future__ import annotations

import uuid

# Every name a variant may be stored under. Fixed, so a re-run overwrites instead of adding objects
# and a delete can remove them all even if the row never learnt which were written.
VARIANT_FILES: tuple[tuple[str, str], ...] = (
    ("resized", "jpg"),
    ("resized", "png"),
    ("compressed", "webp"),
    ("compressed_jpeg", "jpg"),
    ("thumbnail", "jpg"),
    ("thumbnail", "png"),
    ("listing", "jpg"),
    ("listing", "png"),
    ("detail", "jpg"),
    ("detail", "png"),
)


def file_prefix(owner_id: uuid.UUID, file_id: uuid.UUID) -> str:
    return f"files/{owner_id}/{file_id}"


def original_key(owner_id: uuid.UUID, file_id: uuid.UUID) -> str:
    return f"{file_prefix(owner_id, file_id)}/original"


def variant_key(owner_id: uuid.UUID, file_id: uuid.UUID, name: str, extension: str) -> str:
    if (name, extension) not in VARIANT_FILES:
        raise ValueError(f"unknown variant file {name}.{extension}")
    return f"{file_prefix(owner_id, file_id)}/variants/{name}.{extension}"


def all_keys(owner_id: uuid.UUID, file_id: uuid.UUID) -> list[str]:
    return [original_key(owner_id, file_id)] + [
        variant_key(owner_id, file_id, name, extension) for name, extension in VARIANT_FILES
    ]
