"""Named dependencies of the files routes: scoped principals, settings, the upload rate limit."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Depends, Response

from oja.core.dependencies import RuntimeDep
from oja.core.ratelimit import Rate, enforce, rate_limit_headers
from oja.files.config import FilesSettings, get_files_settings
from oja.identity.dependencies import Principal, RequireScopes

FilesSettingsDep = Annotated[FilesSettings, Depends(get_files_settings)]
FilesReader = Annotated[Principal, RequireScopes("files:read")]
FilesWriter = Annotated[Principal, RequireScopes("files:write")]

UPLOAD_RATE_SCOPE = "files.upload"

# The setting is parsed once per distinct value, not on every upload (a `limits` regex parse).
_parse_rate = functools.lru_cache(maxsize=8)(Rate.parse)


# `POST /upload`'s: a user token's session is checked by the upload's INSERT (see
# `oja.identity.dependencies.PendingSession`), not before the body.
FilesUploader = Annotated[Principal, RequireScopes("files:write", deferred=True)]


async def limit_upload_rate(
    principal: FilesUploader, runtime: RuntimeDep, settings: FilesSettingsDep, response: Response
) -> Principal:
    """Counts one upload for the principal's user: 429 with rate-limit headers past the limit
    (a signed-out session's 401 first)."""
    decision = await runtime.rate_limiter.hit(
        UPLOAD_RATE_SCOPE, str(principal.user_id), _parse_rate(settings.upload_rate)
    )
    if not decision.allowed and principal.pending is not None:
        await principal.pending.confirm()
    enforce(decision)
    response.headers.update(rate_limit_headers(decision))
    return principal


Uploader = Annotated[Principal, Depends(limit_upload_rate)]
