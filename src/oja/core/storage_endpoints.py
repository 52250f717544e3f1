"""``GET /storage/{key}``: serves the signed download URLs of :class:`LocalStorage`.

Public by design: the HMAC in the query string is the credential, so the route needs no session. The
signature covers the key, the expiry and the download name, so none of them can be changed. With S3
storage, signed URLs point at S3 itself and this route answers 404.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from oja.core.errors import Forbidden, NotFound, errors
from oja.core.storage import InvalidKey, LocalStorage, ObjectNotFound, content_disposition

router = APIRouter(tags=["storage"])

# Python's built-in table only (no /etc/mime.types), so a key gets the same type on every machine.
_TYPES = mimetypes.MimeTypes()
# Python 3.11's table lacks WebP (added in 3.13), and Oja writes WebP variants.
_TYPES.add_type("image/webp", ".webp")

# Types a browser would run or render as a page on the API's own origin; uploaded content of these
# types is always downloaded, never displayed, so it cannot script the API origin.
_ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
    }
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The object's bytes", "content": {"application/octet-stream": {}}},
    **errors(Forbidden, NotFound),
}


def media_type(key: str) -> str:
    """The content type for a key's suffix; ``application/octet-stream`` when unknown or when the
    suffix is a compression (``.gz``) that would otherwise claim the inner type."""
    kind, encoding = _TYPES.guess_type(key, strict=True)
    if kind is None or encoding is not None:
        return "application/octet-stream"
    return kind


@router.get(
    "/storage/{key:path}",
    summary="Download a stored object through a signed URL",
    response_class=FileResponse,
    responses=_RESPONSES,
)
async def download(
    request: Request,
    key: str,
    expires: str | None = None,
    sig: str | None = None,
    filename: str | None = None,
) -> FileResponse:
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("No such object.")
    if not storage.verify(key, expires=expires, sig=sig, filename=filename):
        raise Forbidden("This download link is not valid or has expired.")
    try:
        path, stat = await storage.locate(key)
    except (InvalidKey, ObjectNotFound) as exc:
        raise NotFound("No such object.") from exc
    kind = media_type(key)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private"}
    if filename is not None:
        headers["Content-Disposition"] = content_disposition(filename)
    elif kind in _ACTIVE_TYPES:
        headers["Content-Disposition"] = content_disposition(key.rsplit("/", 1)[-1])
    # FileResponse streams from a thread and honours Range requests; the stat taken above sets
    # Content-Length, so a missing file is a 404 here rather than an error mid-response.
    return FileResponse(path, media_type=kind, headers=headers, stat_result=stat)
