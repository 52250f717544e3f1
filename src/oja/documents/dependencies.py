"""Named dependencies of the documents routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from oja.documents.config import DocumentsSettings, get_documents_settings
from oja.identity.dependencies import Principal, RequireScopes

DocumentsSettingsDep = Annotated[DocumentsSettings, Depends(get_documents_settings)]
DocumentsReader = Annotated[Principal, RequireScopes("documents:read")]
DocumentsWriter = Annotated[Principal, RequireScopes("documents:write")]
