"""Notification templates (the defaults in code and the admins' overrides, edited with a preview)
and the deliveries that failed for good.

An override is saved through the notification service's ``put_template`` — the function behind
``PUT /admin/notification-templates/{event}/{channel}`` — so the sandbox checks and the sample-data
render refuse here exactly what they refuse there, and nothing is stored then.
"""

from __future__ import annotations

from typing import Any, ClassVar

from jinja2 import TemplateError
from pydantic import ValidationError
from sqladmin import BaseView, expose
from sqladmin.filters import StaticValuesFilter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from oja.admin import operations
from oja.admin.base import ReadOnlyView, operator_id, refuse_cross_site, runtime_of
from oja.core.db import read_only
from oja.notifications import service as notification_service
from oja.notifications.catalogue import EVENTS, EXTERNAL_CHANNELS, Channel, EventSpec
from oja.notifications.errors import TemplateInvalid, TemplateNotFound
from oja.notifications.models import DeliveryStatus, NotificationDelivery
from oja.notifications.schemas import TemplateOut, TemplateUpdate
from oja.notifications.templates import TemplateProblem, check, render

LIST_TEMPLATE = "oja/notification_templates.html"
EDIT_TEMPLATE = "oja/notification_template.html"
SAMPLE_RECIPIENT = "Ada"
"""The recipient name previews use (the templates module checks with the same one)."""


def _preview(spec: EventSpec, text: str | None) -> str | None:
    return (
        None if text is None else render(text, {"recipient_name": SAMPLE_RECIPIENT, **spec.sample})
    )


class NotificationTemplateView(BaseView):
    name = "Notification templates"
    icon = "fa-solid fa-envelope-open-text"

    @expose("/notifications/templates", identity="notification-templates")
    async def index(self, request: Request) -> Response:
        search = request.query_params.get("search", "").strip().lower()
        async with read_only(runtime_of(request).database) as db:
            found = await notification_service.list_templates(db)
        shown = [t for t in found if search in t.event or search == t.channel.value]
        return await self.templates.TemplateResponse(
            request,
            LIST_TEMPLATE,
            {"title": self.name, "rows": shown, "search": search, "total": len(found)},
        )

    @expose(
        "/notifications/templates/{event}/{channel}",
        methods=["GET", "POST"],
        identity="notification-template",
    )
    async def edit(self, request: Request) -> Response:
        event, channel_name = request.path_params["event"], request.path_params["channel"]
        try:
            channel = Channel(channel_name)
        except ValueError as exc:
            raise HTTPException(status_code=404, detail="No such channel.") from exc
        spec = EVENTS.get(event)
        if spec is None:
            raise HTTPException(status_code=404, detail="No such event.")
        locale = request.query_params.get("locale", "en")
        if request.method == "GET":
            try:
                async with read_only(runtime_of(request).database) as db:
                    current = await notification_service.get_template(db, event, channel, locale)
            except (TemplateNotFound, ValueError) as exc:
                raise HTTPException(status_code=404, detail="No such template.") from exc
            return await self._page(
                request, spec, current, subject=current.subject, body=current.body
            )
        return await self._submit(request, spec, channel)

    async def _submit(self, request: Request, spec: EventSpec, channel: Channel) -> Response:
        refuse_cross_site(request)
        form = await request.form()
        raw: dict[str, Any] = {
            "body": form.get("body") or "",
            "subject": (form.get("subject") or None) if channel != Channel.sms else None,
            "locale": form.get("locale") or "en",
        }
        shown = TemplateOut(
            event=spec.name,
            channel=channel,
            locale=str(raw["locale"]),
            subject=raw["subject"],
            body=str(raw["body"]),
            customised=True,
            variables=sorted(spec.variables),
            updated_at=None,
        )
        try:
            update = TemplateUpdate.model_validate(raw)
        except ValidationError as exc:
            problem = "; ".join(str(e["msg"]) for e in exc.errors())
            return await self._page(
                request, spec, shown, subject=raw["subject"], body=raw["body"], problem=problem
            )
        if form.get("intent") == "preview":
            try:
                check(spec, update.body, update.subject)
            except TemplateProblem as exc:
                problem = f"The template was refused: {exc}"
                return await self._page(
                    request,
                    spec,
                    shown,
                    subject=update.subject,
                    body=update.body,
                    problem=problem,
                )
            return await self._page(
                request, spec, shown, subject=update.subject, body=update.body, preview=True
            )
        try:
            await operations.save_template(
                runtime_of(request).database,
                spec.name,
                channel,
                update,
                actor_id=operator_id(request),
            )
        except (TemplateInvalid, TemplateNotFound) as exc:
            return await self._page(
                request,
                spec,
                shown,
                subject=update.subject,
                body=update.body,
                problem=exc.message,
            )
        target = request.url_for(
            "admin:view-notification-template", event=spec.name, channel=channel.value
        ).include_query_params(locale=update.locale, saved=1)
        return RedirectResponse(str(target), status_code=302)

    async def _page(
        self,
        request: Request,
        spec: EventSpec,
        current: TemplateOut,
        *,
        subject: str | None,
        body: str,
        problem: str | None = None,
        preview: bool = False,
    ) -> Response:
        rendered = None
        if problem is None:
            try:
                rendered = (_preview(spec, subject), _preview(spec, body))
            except (TemplateProblem, TemplateError):  # an override the sample no longer renders
                problem = "This template does not render with the event's sample data."
        response: Response = await self.templates.TemplateResponse(
            request,
            EDIT_TEMPLATE,
            {
                "title": f"{spec.name} · {current.channel.value}",
                "template": current,
                "subject": subject,
                "body": body,
                "problem": problem,
                "rendered": rendered,
                "previewing": preview,
                "saved": request.query_params.get("saved") == "1",
                "sample": spec.sample,
            },
            status_code=422 if problem else 200,
        )
        return response


class DeliveryFailureView(ReadOnlyView, model=NotificationDelivery):
    """Deliveries that failed for good (the provider refused them, or retries ran out). There is no
    retry: the notification API offers none, and a resend would be a second message."""

    name = "Failed delivery"
    name_plural = "Failed deliveries"
    icon = "fa-solid fa-triangle-exclamation"
    column_list: ClassVar[Any] = [
        NotificationDelivery.channel,
        NotificationDelivery.address,
        NotificationDelivery.provider,
        NotificationDelivery.provider_status,
        NotificationDelivery.last_error,
        NotificationDelivery.attempts,
        NotificationDelivery.updated_at,
    ]
    column_details_list: ClassVar[Any] = [
        NotificationDelivery.id,
        NotificationDelivery.notification_id,
        NotificationDelivery.channel,
        NotificationDelivery.status,
        NotificationDelivery.address,
        NotificationDelivery.subject,
        NotificationDelivery.body,
        NotificationDelivery.attempts,
        NotificationDelivery.provider,
        NotificationDelivery.provider_message_id,
        NotificationDelivery.provider_status,
        NotificationDelivery.last_error,
        NotificationDelivery.created_at,
        NotificationDelivery.updated_at,
    ]
    column_labels: ClassVar[Any] = {
        NotificationDelivery.provider_status: "Provider said",
        NotificationDelivery.last_error: "Error",
        NotificationDelivery.updated_at: "Failed",
    }
    column_filters: ClassVar[Any] = [
        StaticValuesFilter(
            NotificationDelivery.channel, values=[(c.value, c.value) for c in EXTERNAL_CHANNELS]
        ),
    ]
    column_searchable_list: ClassVar[Any] = [
        NotificationDelivery.address,
        NotificationDelivery.last_error,
    ]
    column_sortable_list: ClassVar[Any] = [NotificationDelivery.updated_at]
    column_default_sort: ClassVar[Any] = [(NotificationDelivery.updated_at, True)]

    def list_query(self, request: Request) -> Any:
        return (
            super().list_query(request).where(NotificationDelivery.status == DeliveryStatus.failed)
        )

    def details_query(self, request: Request) -> Any:
        return (
            super()
            .details_query(request)
            .where(NotificationDelivery.status == DeliveryStatus.failed)
        )
