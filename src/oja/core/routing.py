"""A static-path index in front of the app's router, and :class:`LeanRoute` for hot routes.

FastAPI's router tries its routes in order until one matches; with ~50 included routers (each
trying its own routes, and matching twice: once to select, once to handle) that scan was a large
share of an authenticated read's CPU. :class:`StaticRouteIndex` answers the same question for a path
without parameters from a table: the routes that can match it at all, in their original order,
so the router's own loop runs over one or two routes instead of all of them.

Invariant: a request is routed exactly as the full router would route it. Only an HTTP request
whose path is the literal path of some HTTP route is narrowed, and then to every route whose
pattern accepts that path (parameterised routes and mounts included), in order: routes left out
would answer "no match", which the router's loop skips anyway. Anything else (paths with
parameters, unknown paths, trailing-slash redirects, 404, websockets, lifespan) goes through the
full router, and so does every request while the index is unbuilt or the router's own route
list has changed length since it was built. A path that one included router alone can take is
handed to that router directly, which selects its route (or answers 405) as the loop would.

:class:`LeanRoute` is an ``APIRoute`` whose handler solves its dependency tree (parameters, a
JSON body, generators, plain ``def`` dependencies, ``Response`` parameters) without FastAPI's general solver, through
FastAPI's own validation and generator functions: the same calls in the same order, the same
answers, FastAPI's own handler for anything else.
"""

from __future__ import annotations

import copy
import email.message
import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi._body_limit import get_body_limit_error
from fastapi._compat import ModelField, Undefined
from fastapi.background import BackgroundTasks
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import (
    Dependant,
    _get_cache_key,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from fastapi.dependencies.utils import (
    _solve_generator,
    request_body_to_args,
    request_params_to_args,
)
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import EndpointContext, RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import (
    APIRoute,
    _effective_route_context_var,
    _extract_endpoint_context,
    serialize_response,
)
from fastapi.telemetry._api import _get_request_telemetry, _validation_failed
from fastapi.utils import is_body_allowed_for_status_code
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Host, Match, Router
from starlette.types import Receive, Scope, Send


def _leaves(routes: list[BaseRoute]) -> Iterator[Any]:
    for route in routes:
        # FastAPI keeps an included router as one route; its effective routes carry full paths.
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                # An API route's context holds its full path; other routes get a prefixed copy.
                yield context.starlette_route or context
        else:
            yield route


def _is_included_router(route: BaseRoute) -> bool:
    """FastAPI's stand-in for an included router (it keeps the router it includes)."""
    return hasattr(route, "original_router") and hasattr(route, "include_context")


def _probe(path: str) -> Scope:
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}


class StaticRouteIndex:
    """ASGI app standing in for ``router.middleware_stack`` (the router's own ``app``).

    Inactive (every request takes the full router) until :meth:`build` runs, which the app's
    lifespan does at startup: building makes FastAPI prepare every included route at once (about
    a second), which a test that serves a few requests without a lifespan should not pay.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self._built_for = -1
        self._views: dict[str, Router] = {}
        self._direct: dict[str, BaseRoute] = {}

    @property
    def active(self) -> bool:
        """Built, and for the routes the router has now (a route added since turns it off)."""
        return self._built_for == len(self.router.routes)

    def build(self) -> None:
        routes = self.router.routes
        leaves = list(_leaves(routes))
        views: dict[str, Router] = {}
        # A host route matches on a header, not the path: then no index.
        if not any(isinstance(leaf, Host) for leaf in leaves):
            for leaf in leaves:
                path = getattr(leaf, "path", None)
                if not isinstance(path, str) or "{" in path or path in views:
                    continue
                candidates = [r for r in routes if r.matches(_probe(path))[0] is not Match.NONE]
                if candidates:  # an HTTP route takes this path (not a websocket-only one)
                    view = copy.copy(self.router)
                    view.routes = candidates
                    views[path] = view
        self._views = views
        # One included router alone can take the path: the router's loop would ask it to match
        # (a full match of its own routes) and then to handle, which matches again. Handed the
        # request at once, it selects the same route (or answers 405 for another method) with
        # one match. Not when the app's router has form limits to apply first.
        self._direct = (
            {}
            if getattr(self.router, "form_limits", None)
            else {
                path: view.routes[0]
                for path, view in views.items()
                if len(view.routes) == 1 and _is_included_router(view.routes[0])
            }
        )
        self._built_for = len(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.active:
            path = get_route_path(scope)
            view = self._views.get(path)
            if view is not None:
                # `url_for` asks the scope's router: the whole one, not the narrowed view.
                scope.setdefault("router", self.router)
                direct = self._direct.get(path)
                if direct is not None:
                    await direct.handle(scope, receive, send)
                else:
                    await view.app(scope, receive, send)
                return
        await self.router.app(scope, receive, send)


def index_static_routes(router: Router) -> StaticRouteIndex:
    """Route ``router``'s requests through a :class:`StaticRouteIndex` (same answers, less CPU);
    call its :meth:`~StaticRouteIndex.build` once the routes are in place."""
    index = StaticRouteIndex(router)
    router.middleware_stack = index
    return index


_AWAIT, _THREAD, _GENERATOR = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Node:
    """One dependency of a :class:`LeanRoute`'s tree: what FastAPI's solver would do for it,
    worked out once (its cache key, how it is called, which parameters it takes)."""

    dependant: Dependant
    call: Callable[..., Any]
    name: str | None
    key: Any
    use_cache: bool
    kind: int
    function_scope: bool
    path_params: list[ModelField]
    query_params: list[ModelField]
    header_params: list[ModelField]
    cookie_params: list[ModelField]
    body_params: list[ModelField]
    request_names: tuple[str, ...]
    background_name: str | None
    response_name: str | None
    subs: tuple[_Node, ...]
    takes_fields: bool  # any parameter, body field or ``BackgroundTasks``


def _plan(dependant: Dependant) -> _Node | None:
    """The tree as :class:`_Node`s, or None when it holds what the lean solver leaves to
    FastAPI's: a websocket, a ``SecurityScopes`` parameter, a concurrency limit."""
    call = dependant.call
    if (
        call is None
        or dependant.websocket_param_name
        or dependant.security_scopes_param_name
        or dependant.concurrency is not None
    ):
        return None
    subs = []
    for sub in dependant.dependencies:
        node = _plan(sub)
        if node is None:
            return None
        subs.append(node)
    if _is_gen_callable(call) or _is_async_gen_callable(call):
        kind = _GENERATOR
    elif _is_coroutine_callable(call):
        kind = _AWAIT
    else:
        kind = _THREAD
    names = (dependant.http_connection_param_name, dependant.request_param_name)
    return _Node(
        dependant=dependant,
        call=call,
        name=dependant.name,
        key=_get_cache_key(dependant=dependant, uses_scopes_cache={}),
        use_cache=dependant.use_cache,
        kind=kind,
        function_scope=dependant.scope == "function",
        path_params=dependant.path_params,
        query_params=dependant.query_params,
        header_params=dependant.header_params,
        cookie_params=dependant.cookie_params,
        body_params=dependant.body_params,
        request_names=tuple(n for n in names if n),
        background_name=dependant.background_tasks_param_name,
        response_name=dependant.response_param_name,
        subs=tuple(subs),
        takes_fields=bool(
            dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.background_tasks_param_name
        ),
    )


class _Solving:
    """One request's solving: FastAPI's dependency cache, its one ``BackgroundTasks`` and its
    one ``Response`` for ``Response`` parameters (made when first asked for)."""

    __slots__ = ("background", "body", "cache", "embed", "request", "response")

    def __init__(self, request: Request, body: Any, embed: bool) -> None:
        self.request = request
        self.body = body
        self.embed = embed
        self.cache: dict[Any, Any] = {}
        self.background: BackgroundTasks | None = None
        self.response: Response | None = None

    def sub_response(self) -> Response:
        """The ``Response`` FastAPI's solver hands its ``Response`` parameters: no headers, no
        status; what they set is applied to the route's response (see :meth:`apply`)."""
        if self.response is None:
            response = Response()
            del response.headers["content-length"]
            response.status_code = None  # type: ignore[assignment]  # FastAPI's "not set"
            self.response = response
        return self.response


async def _solve(node: _Node, s: _Solving) -> tuple[dict[str, Any], list[Any]]:
    """``solve_dependencies`` for a planned tree: the keyword arguments of ``node.call`` and
    the validation errors, built in the same order with the same FastAPI functions — each
    dependency's own tree first (also when its value is cached), skipped when that tree has
    errors, generators entered on the request's function or request exit stack as FastAPI
    enters them, plain ``def`` on the thread pool; then the parameters, the body, the request."""
    values: dict[str, Any] = {}
    errors: list[Any] = []
    request = s.request
    cache = s.cache
    for sub in node.subs:
        sub_values, sub_errors = await _solve(sub, s)
        if sub_errors:
            errors.extend(sub_errors)
            continue
        key = sub.key
        if sub.use_cache and key in cache:
            solved = cache[key]
        elif sub.kind == _GENERATOR:
            stack = request.scope[
                "fastapi_function_astack" if sub.function_scope else "fastapi_inner_astack"
            ]
            solved = await _solve_generator(
                dependant=sub.dependant, stack=stack, sub_values=sub_values, request=request
            )
        elif sub.kind == _AWAIT:
            solved = await sub.call(**sub_values)
        else:
            solved = await run_in_threadpool(sub.call, **sub_values)
        if sub.name is not None:
            values[sub.name] = solved
        if key not in cache:
            cache[key] = solved
    if node.takes_fields:
        await _fields(node, s, values, errors)
    for name in node.request_names:
        values[name] = request
    if node.response_name:
        values[node.response_name] = s.sub_response()
    return values, errors


async def _fields(node: _Node, s: _Solving, values: dict[str, Any], errors: list[Any]) -> None:
    """The node's parameters, body fields and ``BackgroundTasks``, as FastAPI adds them."""
    request = s.request
    if node.path_params:
        found, failed = request_params_to_args(node.path_params, request.path_params)
        values.update(found)
        errors += failed
    if node.query_params:
        found, failed = request_params_to_args(node.query_params, request.query_params)
        values.update(found)
        errors += failed
    if node.header_params:
        found, failed = request_params_to_args(node.header_params, request.headers)
        values.update(found)
        errors += failed
    if node.cookie_params:
        found, failed = request_params_to_args(node.cookie_params, request.cookies)
        values.update(found)
        errors += failed
    if node.body_params:
        found, failed = await request_body_to_args(
            body_fields=node.body_params, received_body=s.body, embed_body_fields=s.embed
        )
        values.update(found)
        errors.extend(failed)
    if node.background_name:
        if s.background is None:
            s.background = BackgroundTasks()
        values[node.background_name] = s.background


async def _json_body(request: Request, strict: bool, endpoint_ctx: EndpointContext) -> Any:
    """The body as FastAPI's handler reads it for a JSON (not form) body field."""
    try:
        body: Any = Undefined
        body_bytes = await request.body()
        if body_bytes:
            json_body: Any = Undefined
            content_type_value = request.headers.get("content-type")
            if not content_type_value:
                if not strict:
                    json_body = await request.json()
            else:
                message = email.message.Message()
                message["content-type"] = content_type_value
                if message.get_content_maintype() == "application":
                    subtype = message.get_content_subtype()
                    if subtype == "json" or subtype.endswith("+json"):
                        json_body = await request.json()
            body = json_body if json_body is not Undefined else body_bytes
    except json.JSONDecodeError as e:
        validation_error = RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", e.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": e.msg},
                }
            ],
            body=e.doc,
            endpoint_ctx=endpoint_ctx,
        )
        _validation_failed(validation_error)
        raise validation_error from e
    except HTTPException:
        raise
    except Exception as e:
        if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (error := get_body_limit_error(e)):
            raise error from e
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from e
    return body


class LeanRoute(APIRoute):
    """An :class:`APIRoute` whose handler solves its dependency tree without FastAPI's general
    solver: the same calls in the same order, each made once per request, the same validation
    (FastAPI's own ``request_params_to_args``/``request_body_to_args``, so the same errors),
    generators entered and left on the same exit stacks (FastAPI's ``_solve_generator``), plain
    ``def`` dependencies on the thread pool; then the response as FastAPI's handler builds it.
    What it skips is the general solver's per-node work (overrides check, cache key, callable
    classification, four parameter extractions, a ``Response`` per request that no
    ``Response`` parameter asks for).

    ``Response`` parameters share one response per request, whose status and headers go onto the
    route's response as FastAPI's handler applies them.

    Same answers: anything else takes FastAPI's own handler — a tree outside the plan (see
    :func:`_plan`), a form body, a sync or streaming endpoint, a response class of its own, and,
    per request, dependency overrides (tests) or FastAPI's telemetry.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        context = _effective_route_context_var.get()
        # As FastAPI's: an included route's handler is built for its effective context.
        route: Any = context if context is not None and context.original_route is self else self
        root = _plan(route.dependant)
        response_class = route.response_class
        body_field = route.body_field
        call = route.dependant.call
        if (
            root is None
            or root.kind != _AWAIT
            or (body_field is not None and isinstance(body_field.field_info, params.Form))
            or route.stream_item_field is not None
            or route.is_json_stream
            or not isinstance(response_class, DefaultPlaceholder)
            or response_class.value is not JSONResponse
        ):
            return standard
        path = route.dependant.path
        field = route.response_field
        status = route.status_code or 200  # Response's and JSONResponse's default
        strip_body = not is_body_allowed_for_status_code(status)
        embed = route._embed_body_fields
        strict_setting = route.strict_content_type
        strict = (
            strict_setting.value
            if isinstance(strict_setting, DefaultPlaceholder)
            else strict_setting
        )
        overrides = route.dependency_overrides_provider
        include = route.response_model_include
        exclude = route.response_model_exclude
        by_alias = route.response_model_by_alias
        exclude_unset = route.response_model_exclude_unset
        exclude_defaults = route.response_model_exclude_defaults
        exclude_none = route.response_model_exclude_none

        async def app(request: Request) -> Response:
            if (overrides is not None and overrides.dependency_overrides) or (
                _get_request_telemetry() is not None
            ):
                return await standard(request)
            endpoint_ctx = _extract_endpoint_context(call)
            if path:
                mount_path = request.scope.get("root_path", "").rstrip("/")
                endpoint_ctx["path"] = f"{request.method} {mount_path}{path}"
            body = (
                Undefined if body_field is None else await _json_body(request, strict, endpoint_ctx)
            )
            solving = _Solving(request, body, embed)
            values, errors = await _solve(root, solving)
            if errors:
                validation_error = RequestValidationError(
                    errors, body=None if body is Undefined else body, endpoint_ctx=endpoint_ctx
                )
                _validation_failed(validation_error)
                raise validation_error
            raw = await root.call(**values)
            if isinstance(raw, Response):
                if raw.background is None:
                    raw.background = solving.background
                return raw  # as FastAPI's: what a `Response` parameter got is not applied
            # The status a `Response` parameter was given, else the route's (or the class's).
            sub = solving.response
            code = status if sub is None or not sub.status_code else sub.status_code
            response: Response
            if field is not None:
                content = await serialize_response(
                    field=field,
                    response_content=raw,
                    include=include,
                    exclude=exclude,
                    by_alias=by_alias,
                    exclude_unset=exclude_unset,
                    exclude_defaults=exclude_defaults,
                    exclude_none=exclude_none,
                    is_coroutine=True,
                    endpoint_ctx=endpoint_ctx,
                    dump_json=True,
                )
                response = Response(
                    content=content,
                    status_code=code,
                    media_type="application/json",
                    background=solving.background,
                )
            else:
                response = JSONResponse(
                    jsonable_encoder(raw), status_code=code, background=solving.background
                )
            if strip_body if code == status else not is_body_allowed_for_status_code(code):
                response.body = b""
            if sub is not None:
                response.headers.raw.extend(sub.headers.raw)
            return response

        return app
