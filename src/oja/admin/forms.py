"""Forms an operator fills for one selected row (a payout's OTP, a dispute's evidence): the page
that asks, and the posted values read back and checked by the request schema the JSON route uses,
so the UI accepts exactly what the API accepts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqladmin import ModelView
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from oja.admin.base import back_to_list, refuse_cross_site, selected_ids
from oja.core.errors import OjaError

FORM_TEMPLATE = "oja/form.html"
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str = "text"
    """An ``<input>`` type, or ``textarea``."""
    required: bool = True
    max_length: int = 500
    pattern: str | None = None


async def ask_form(
    view: ModelView,
    request: Request,
    *,
    decide: str,
    verb: str,
    what: str,
    fields: list[FormField],
) -> Response:
    """The form for exactly one selected row; it posts to the view's ``decide`` route."""
    refuse_cross_site(request)
    ids = selected_ids(request)
    if len(ids) != 1:
        return back_to_list(view, request, f"Select exactly one {what}.", ok=False)
    return await view.templates.TemplateResponse(
        request,
        FORM_TEMPLATE,
        {
            "model_view": view,
            "title": f"{verb}: {view.name.lower()} {ids[0]}",
            "verb": verb,
            "pks": str(ids[0]),
            "post_to": str(request.url_for(f"admin:view-{view.identity}-{decide}")),
            "fields": fields,
        },
    )


async def form_of(
    request: Request, schema: type[Model], fields: list[FormField]
) -> tuple[uuid.UUID, Model | str]:
    """The row and the posted fields as ``schema`` (blank optional fields left out), or the
    schema's complaint as one line; a cross-site post or a malformed row answers 403 / 400."""
    refuse_cross_site(request)
    form = await request.form()
    pks = form.get("pks")
    try:
        pk = uuid.UUID(pks if isinstance(pks, str) else "")
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="Invalid selection.") from exc
    values = {}
    for field in fields:
        value = form.get(field.name)
        if isinstance(value, str) and value.strip():
            values[field.name] = value.strip()
    try:
        return pk, schema.model_validate(values)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return pk, "; ".join(problems)


async def submit_form(
    view: ModelView,
    request: Request,
    schema: type[Model],
    fields: list[FormField],
    *,
    refused: str,
    act: Callable[[uuid.UUID, Model], Awaitable[str]],
) -> RedirectResponse:
    """Read the posted form as ``schema`` and ``act`` on it; the outcome, or why not (the schema's
    complaint or the service's refusal, prefixed by ``refused``), shown on the view's list."""
    pk, given = await form_of(request, schema, fields)
    if isinstance(given, str):
        return back_to_list(view, request, f"{refused}: {given}", ok=False)
    try:
        done = await act(pk, given)
    except OjaError as exc:
        return back_to_list(view, request, f"{refused}: {exc.message}", ok=False)
    return back_to_list(view, request, done)
