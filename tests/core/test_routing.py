"""The static-path index routes every request exactly as the full router does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route

from oja.core.routing import StaticRouteIndex, index_static_routes

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def tricky_app(*, indexed: bool) -> FastAPI:
    app = FastAPI()
    items = APIRouter(prefix="/items")

    @items.get("/{item_id}", name="item")
    async def item(item_id: str) -> dict[str, str]:
        return {"route": "item", "id": item_id}

    @items.get("/special")  # shadowed: the parameter route comes first
    async def special() -> dict[str, str]:
        return {"route": "special"}

    things = APIRouter(prefix="/things")

    @things.get("/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"route": "thing", "id": thing_id}

    @things.post("/new")
    async def new_thing() -> dict[str, str]:
        return {"route": "new"}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"route": "ping"}

    @app.get("/link")
    async def link(request: Request) -> dict[str, str]:
        return {
            "url": str(request.url_for("item", item_id="7")),
            "root": request.scope["root_path"],
        }

    async def static(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"mounted {request.url.path}")

    app.include_router(items)
    app.include_router(things)
    app.router.routes.append(Mount("/files", app=Starlette(routes=[Route("/{p:path}", static)])))

    @app.get("/files/listing")  # after the mount, which takes it
    async def listing() -> dict[str, str]:
        return {"route": "listing"}

    @app.post("/files")
    async def upload() -> dict[str, str]:
        return {"route": "upload"}

    if indexed:
        index_static_routes(app.router).build()
    return app


REQUESTS = [
    (method, path)
    for path in [
        "/ping",
        "/ping/",
        "/items/special",
        "/items/3",
        "/items",
        "/items/",
        "/things/new",
        "/things/7",
        "/files",
        "/files/listing",
        "/files/a/b",
        "/link",
        "/nope",
        "/",
    ]
    for method in METHODS
]


async def answers(app: FastAPI, root_path: str = "") -> list[tuple[Any, ...]]:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        out = []
        for method, path in REQUESTS:
            response = await client.request(method, root_path + path)
            out.append(
                (
                    method,
                    path,
                    response.status_code,
                    response.text,
                    response.headers.get("location"),
                    response.headers.get("allow"),
                )
            )
        return out


@pytest.mark.parametrize("root_path", ["", "/api"])
async def test_the_index_answers_every_request_as_the_full_router(root_path: str) -> None:
    indexed = await answers(tricky_app(indexed=True), root_path)
    assert indexed == await answers(tricky_app(indexed=False), root_path)
    by_request = {(m, p): (status, text) for m, p, status, text, *_ in indexed}
    # The cases the index must not short-cut, by value (the comparison alone could hide a bug
    # both routers shared).
    assert by_request["GET", "/items/special"] == (200, '{"route":"item","id":"special"}')
    assert by_request["POST", "/things/new"] == (200, '{"route":"new"}')
    assert by_request["GET", "/things/new"] == (200, '{"route":"thing","id":"new"}')
    assert by_request["PUT", "/things/new"][0] == 405
    assert by_request["HEAD", "/ping"][0] == 405  # FastAPI does not add HEAD to a GET route
    assert by_request["GET", "/ping/"][0] == 307
    assert by_request["GET", "/files/listing"] == (200, f"mounted {root_path}/files/listing")
    assert by_request["POST", "/files"] == (200, '{"route":"upload"}')
    assert by_request["GET", "/nope"][0] == 404
    link = by_request["GET", "/link"][1]
    assert link == f'{{"url":"http://t{root_path}/items/7","root":"{root_path}"}}'


def test_the_index_narrows_static_paths_only() -> None:
    app = tricky_app(indexed=True)
    index = app.router.middleware_stack
    assert isinstance(index, StaticRouteIndex)
    # `/files/listing` also reaches the mount declared before it; `/items/special` the parameter
    # route that shadows it; paths with parameters are never keys.
    assert {path: len(view.routes) for path, view in index._views.items()} == {
        "/openapi.json": 1,
        "/docs": 1,
        "/docs/oauth2-redirect": 1,
        "/redoc": 1,
        "/items/special": 1,
        "/things/new": 1,  # both of its routes are in one included router
        "/ping": 1,
        "/link": 1,
        "/files/listing": 2,
        "/files": 1,
    }


def select(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    """The route a router's loop picks: the first full match, else the first partial one."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    partial = None
    for route in routes:
        match = route.matches(dict(scope))[0]
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def test_every_static_path_of_the_app_selects_the_same_route(app: Any) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, StaticRouteIndex)
    index.build()
    assert len(index._views) > 90
    assert len(index._views["/user/me"].routes) == 1  # one candidate of the app's ~50
    for path, view in index._views.items():
        for method in METHODS:
            chosen = select(view.routes, method, path)
            assert chosen is not None
            assert chosen is select(app.router.routes, method, path), (method, path)


async def test_the_app_builds_its_index_at_startup(app: Any) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, StaticRouteIndex)
    assert not index.active  # no lifespan yet: every request takes the full router
    async with app.router.lifespan_context(app):
        assert index.active
        assert "/user/me" in index._views


async def test_a_route_added_after_the_build_turns_the_index_off() -> None:
    app = tricky_app(indexed=True)
    index = app.router.middleware_stack
    assert isinstance(index, StaticRouteIndex)
    assert index.active

    @app.post("/items/special")
    async def late() -> dict[str, str]:
        return {"route": "late"}

    assert not index.active
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/items/special")).json() == {"route": "item", "id": "special"}
        assert (await client.post("/items/special")).json() == {"route": "late"}


def test_a_path_only_one_included_router_takes_is_handed_to_it() -> None:
    """Such a path skips the router's loop (match, then handle and match again): the included
    router is handed the request; other paths take the narrowed loop."""
    app = tricky_app(indexed=True)
    index = app.router.middleware_stack
    assert isinstance(index, StaticRouteIndex)
    assert sorted(index._direct) == ["/items/special", "/things/new"]
    for path, route in index._direct.items():
        assert index._views[path].routes == [route]
