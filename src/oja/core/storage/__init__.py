"""Object storage port: one :class:`Storage` interface, a local-folder and an S3 adapter.

``create_storage(settings)`` picks the adapter from ``OJA_STORAGE_URL``: ``file:///path`` (the
default, ``OJA_VAR_DIR/storage``) or ``s3://bucket/prefix``.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from urllib.parse import unquote, urlsplit

from oja.core.config import Settings
from oja.core.storage.base import (
    InvalidKey,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    WhileSyncing,
    content_disposition,
    safe_filename,
    validate_key,
)
from oja.core.storage.local import LocalStorage

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StoredObject",
    "WhileSyncing",
    "content_disposition",
    "create_storage",
    "safe_filename",
    "signing_key",
    "validate_key",
]


def signing_key(secret_key: str) -> bytes:
    """The key for signed download URLs, derived from ``OJA_SECRET_KEY``.

    Derived rather than used as is: the same secret signs tokens elsewhere, and a separate key per
    purpose means no signature made for one can ever be valid for the other.
    """
    return hmac.new(secret_key.encode(), b"oja.core.storage.signed-url", hashlib.sha256).digest()


def create_storage(settings: Settings) -> Storage:
    url = settings.storage_url
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"OJA_STORAGE_URL: a file URL names no host, got {url!r}")
        if not parts.path.startswith("/"):
            raise ValueError(f"OJA_STORAGE_URL: a file URL needs an absolute path, got {url!r}")
        return LocalStorage(
            Path(unquote(parts.path)),
            signing_key(settings.secret_key),
            settings.app.public_url,
        )
    if parts.scheme == "s3":
        # boto3 is imported only when S3 is configured: it is slow to import and the embedded
        # default never needs it.
        from oja.core.storage.s3 import S3Storage

        if not parts.netloc:
            raise ValueError(f"OJA_STORAGE_URL: an s3 URL names a bucket, got {url!r}")
        config = settings.storage
        return S3Storage(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=config.s3_endpoint_url,
            region=config.s3_region,
            access_key_id=config.s3_access_key_id,
            secret_access_key=config.s3_secret_access_key,
        )
    raise ValueError(f"OJA_STORAGE_URL must be file:///path or s3://bucket/prefix, got {url!r}")
