"""The OpenAPI document: FastAPI's, with every schema component named by its model's title.

Pydantic keys a generic model's component by its origin and arguments (``Page_FileSummary_``) while
its title is the model's own name (``FileSummaryPage``, see :class:`oja.core.pagination.Page`); the
document names each component by its title wherever that title is a plain, unused name.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_REF = "#/components/schemas/"


def name_components_by_title(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    renamed: dict[str, str] = {}
    for key, schema in schemas.items():
        title = schema.get("title")
        if (
            isinstance(title, str)
            and title != key
            and _NAME.fullmatch(title)
            and title not in schemas
            and title not in renamed.values()
        ):
            renamed[key] = title
    if not renamed:
        return document
    document["components"]["schemas"] = {renamed.get(k, k): v for k, v in schemas.items()}
    _rewrite_refs(document, {_REF + old: _REF + new for old, new in renamed.items()})
    return document


def _rewrite_refs(node: Any, refs: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in refs:
            node["$ref"] = refs[ref]
        for value in node.values():
            _rewrite_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, refs)


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` answers the document with components named by title (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = name_components_by_title(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
