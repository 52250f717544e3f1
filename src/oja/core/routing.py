"""A static-path index in front of the app's router.

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
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from starlette._utils import get_route_path
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
