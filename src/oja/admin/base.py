"""What every admin view shares: read-only by default, and the plumbing of its actions.

An action is a GET link (sqladmin's design) carrying the selected primary keys in ``pks``. Each one
refuses a request another site started, runs one function of :mod:`oja.admin.operations`, and sends
the operator back to the list with a message.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from markupsafe import Markup, escape
from sqladmin import ModelView
from sqladmin.filters import StaticValuesFilter
from sqladmin.flash import Flash
from sqladmin.formatters import BASE_FORMATTERS
from sqlalchemy import Enum
from sqlalchemy.orm import InstrumentedAttribute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from oja.core.clock import as_utc
from oja.core.runtime import Runtime


def _utc_seconds(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


class ReadOnlyView(ModelView):
    """Lists and details only: records change through the API or through this view's actions."""

    can_create: ClassVar[bool] = False
    can_edit: ClassVar[bool] = False
    can_delete: ClassVar[bool] = False
    can_export: ClassVar[bool] = False
    page_size: ClassVar[int] = 25
    page_size_options: ClassVar[list[int]] = [25, 50, 100]
    column_type_formatters: ClassVar[Any] = {**BASE_FORMATTERS, datetime: _utc_seconds}


def runtime_of(request: Request) -> Runtime:
    """The runtime of the app this admin is mounted on (set by :func:`oja.admin.mount_admin`)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def selected_ids(request: Request) -> list[uuid.UUID]:
    """The ``pks`` of an action request; a malformed id answers 400."""
    raw = [pk for pk in request.query_params.get("pks", "").split(",") if pk]
    try:
        return [uuid.UUID(pk) for pk in raw]
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="Invalid selection.") from exc


def refuse_cross_site(request: Request) -> None:
    """Browsers say who started a request; only this admin's own pages may trigger an action."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(status_code=403, detail="Actions must come from the admin itself.")


def back_to_list(
    view: ModelView, request: Request, message: str, *, ok: bool = True
) -> RedirectResponse:
    """Redirect to the view's list, with the outcome shown as a toast."""
    if ok:
        Flash.success(request, message)
    else:
        Flash.error(request, message)
    return RedirectResponse(request.url_for("admin:list", identity=view.identity), status_code=302)


def values_filter(column: InstrumentedAttribute[str]) -> StaticValuesFilter:
    """A filter offering exactly the values the column's constraint allows (see ``one_of``)."""
    allowed = column.property.columns[0].type
    if not isinstance(allowed, Enum):
        raise TypeError(f"{column} is not a one_of() column")
    return StaticValuesFilter(column, values=[(v, v) for v in allowed.enums])


def operator_id(request: Request) -> uuid.UUID:
    """The signed-in admin (the session :class:`oja.admin.auth.AdminAuth` checked for this request)."""
    return uuid.UUID(request.session["user_id"])


REASON_TEMPLATE = "oja/reason.html"
MAX_REASON = 500
"""The longest reason the services record (a store's status change, a review decision)."""


async def ask_reason(
    view: ModelView, request: Request, *, decide: str, verb: str, required: bool = True
) -> Response:
    """The form that asks why, for a decision the service records with a reason. It posts the
    selection and the reason to the view's ``decide`` route (a same-origin POST)."""
    refuse_cross_site(request)
    ids = selected_ids(request)
    if not ids:
        return back_to_list(view, request, "Select at least one row.", ok=False)
    return await view.templates.TemplateResponse(
        request,
        REASON_TEMPLATE,
        {
            "model_view": view,
            "title": f"{verb} {len(ids)} {view.name.lower()}(s)",
            "verb": verb,
            "pks": ",".join(str(i) for i in ids),
            "post_to": str(request.url_for(f"admin:view-{view.identity}-{decide}")),
            "required": required,
        },
    )


async def reason_of(request: Request) -> tuple[list[uuid.UUID], str | None]:
    """The selection and the reason a :func:`ask_reason` form posted; cross-site posts refused."""
    refuse_cross_site(request)
    form = await request.form()
    pks, reason = form.get("pks"), form.get("reason")
    if not isinstance(pks, str) or not isinstance(reason, str):
        raise HTTPException(status_code=400, detail="Invalid form.")
    try:
        ids = [uuid.UUID(pk) for pk in pks.split(",") if pk]
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="Invalid selection.") from exc
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise HTTPException(status_code=400, detail=f"A reason is at most {MAX_REASON} characters.")
    return ids, reason or None


def details_link(request: Request, identity: str, pk: object, text: object) -> Markup:
    """A link to another view's details page (an order from its refund, say)."""
    url = request.url_for("admin:details", identity=identity, pk=str(pk))
    return Markup('<a href="{}">{}</a>').format(str(url), escape(str(text)))


class LinkingView(ReadOnlyView):
    """A read-only view whose id columns in :attr:`column_links` link to the view they name."""

    column_links: ClassVar[dict[str, str]] = {}
    """Attribute name → the identity of the view its value is the primary key of."""

    async def get_list_value(
        self, obj: Any, prop: str, request: Request | None = None
    ) -> tuple[Any, Any]:
        value, formatted = await super().get_list_value(obj, prop, request)
        identity = self.column_links.get(prop)
        if identity is None or value is None or request is None:
            return value, formatted
        return value, details_link(request, identity, value, formatted)

    async def get_detail_value(
        self, obj: Any, prop: str, request: Request | None = None
    ) -> tuple[Any, Any]:
        value, formatted = await super().get_detail_value(obj, prop, request)
        identity = self.column_links.get(prop)
        if identity is None or value is None or request is None:
            return value, formatted
        return value, details_link(request, identity, value, formatted)
