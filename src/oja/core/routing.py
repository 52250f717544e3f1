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

:class:`LeanRoute` is an ``APIRoute`` whose handler solves a tree of plain ``async def``
dependencies that take only the request without FastAPI's general solver: the same calls in the
same order, the same answers, FastAPI's own handler for anything else.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import (
    APIRoute,
    _effective_route_context_var,
    _extract_endpoint_context,
    serialize_response,
)
from fastapi.telemetry import get_telemetry_data
from starlette._utils import get_route_path
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


@dataclass(frozen=True)
class _Node:
    """One dependency of a :class:`LeanRoute`'s tree: what FastAPI's solver would do for it."""

    call: Callable[..., Awaitable[Any]]
    name: str | None
    key: tuple[Any, Any]
    request_names: tuple[str, ...]
    subs: tuple[_Node, ...]


def _awaitable_call(call: Any) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one (the security schemes)."""
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    return inspect.iscoroutinefunction(target) and not inspect.isasyncgenfunction(target)


def _plan(dependant: Dependant, scopes: dict[Any, Any]) -> _Node | None:
    """The tree as :class:`_Node`s, or None when FastAPI's solver would do more for it than await
    coroutines and hand them the request: parameters, a body, generators (``yield``), sync
    functions (the thread pool), OAuth scopes, a response or background-tasks parameter,
    concurrency limits, uncached dependencies, or one call under two scopes (two cache keys)."""
    call = dependant.call
    if (
        call is None
        or not _awaitable_call(call)
        or dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or dependant.parent_oauth_scopes
        or dependant.concurrency is not None
        or not dependant.use_cache
        or scopes.setdefault(call, dependant.scope) != dependant.scope
    ):
        return None
    subs = []
    for sub in dependant.dependencies:
        node = _plan(sub, scopes)
        if node is None:
            return None
        subs.append(node)
    names = (dependant.request_param_name, dependant.http_connection_param_name)
    return _Node(
        call=call,
        name=dependant.name,
        key=(call, dependant.scope),
        request_names=tuple(n for n in names if n),
        subs=tuple(subs),
    )


async def _solve(node: _Node, request: Request, cache: dict[Any, Any]) -> dict[str, Any]:
    """The keyword arguments of ``node.call``, as ``solve_dependencies`` builds them for such a
    tree: each dependency's own tree first, then its call unless already made in this request."""
    values: dict[str, Any] = {}
    for sub in node.subs:
        arguments = await _solve(sub, request, cache)
        if sub.key in cache:
            solved = cache[sub.key]
        else:
            solved = cache[sub.key] = await sub.call(**arguments)
        if sub.name is not None:
            values[sub.name] = solved
    for name in node.request_names:
        values[name] = request
    return values


class LeanRoute(APIRoute):
    """An :class:`APIRoute` whose handler, for a tree of plain ``async def`` dependencies that
    only take the request (and each other), solves it without FastAPI's general solver: the same
    calls in the same order, each made once per request, then the response model's validation
    and JSON as FastAPI's handler does them. The general solver's per-node work (cache keys,
    callable classification, four parameter extractions, an exit-stack check) was a seventh of
    an authenticated read's CPU.

    Same answers: anything else takes FastAPI's own handler — a route or tree outside that shape
    (see :func:`_plan`), a set status code or response class, and, per request, dependency
    overrides (tests) or FastAPI's telemetry.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        context = _effective_route_context_var.get()
        # As FastAPI's: an included route's handler is built for its effective context.
        route: Any = context if context is not None and context.original_route is self else self
        root = _plan(route.dependant, {})
        response_class = route.response_class
        if (
            root is None
            or route.body_field is not None
            or route.response_field is None
            or route.status_code is not None
            or route.stream_item_field is not None
            or route.is_json_stream
            or not isinstance(response_class, DefaultPlaceholder)
            or response_class.value is not JSONResponse
        ):
            return standard
        call = root.call
        path = route.dependant.path
        field = route.response_field
        overrides = route.dependency_overrides_provider
        include = route.response_model_include
        exclude = route.response_model_exclude
        by_alias = route.response_model_by_alias
        exclude_unset = route.response_model_exclude_unset
        exclude_defaults = route.response_model_exclude_defaults
        exclude_none = route.response_model_exclude_none

        async def app(request: Request) -> Response:
            if (overrides is not None and overrides.dependency_overrides) or (
                get_telemetry_data() is not None
            ):
                return await standard(request)
            endpoint_ctx = _extract_endpoint_context(call)
            if path:
                mount_path = request.scope.get("root_path", "").rstrip("/")
                endpoint_ctx["path"] = f"{request.method} {mount_path}{path}"
            raw = await call(**await _solve(root, request, {}))
            if isinstance(raw, Response):
                return raw
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
            return Response(content=content, media_type="application/json")

        return app
