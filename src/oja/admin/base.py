"""What every admin view shares: read-only by default, and the plumbing of its actions.

An action is a GET link (sqladmin's design) carrying the selected primary keys in ``pks``. Each one
refuses a request another site started, runs one function of :mod:`oja.admin.operations`, and sends
the operator back to the list with a message.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqladmin import ModelView
from sqladmin.filters import StaticValuesFilter
from sqladmin.flash import Flash
from sqladmin.formatters import BASE_FORMATTERS
from sqlalchemy import Enum
from sqlalchemy.orm import InstrumentedAttribute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

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
