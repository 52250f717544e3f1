"""The static-path index routes every request exactly as the full router does."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route

from oja.core.routing import LeanRoute, StaticRouteIndex, index_static_routes

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


_bearer_scheme = OAuth2PasswordBearer(tokenUrl="/login", auto_error=False)
_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)
_calls: list[str] = []


async def _shared(request: Request) -> str:
    _calls.append(request.url.path)
    return request.headers.get("x-who", "nobody")


async def _who(
    request: Request,
    name: Annotated[str, Depends(_shared)],
    bearer: Annotated[str | None, Depends(_bearer_scheme)],
    key: Annotated[str | None, Depends(_key_scheme)],
) -> dict[str, Any]:
    if name == "refused":
        raise HTTPException(status_code=401, detail="no", headers={"X-Why": "refused"})
    return {"name": name, "bearer": bearer, "key": key, "path": request.url.path}


class _Out(BaseModel):
    name: str
    bearer: str | None
    key: str | None
    path: str
    twice: str


async def _answer(
    caller: Annotated[dict[str, Any], Depends(_who)], again: Annotated[str, Depends(_shared)]
) -> _Out:
    return _Out(**caller, twice=again)


async def _raw(caller: Annotated[dict[str, Any], Depends(_who)]) -> PlainTextResponse:
    return PlainTextResponse(caller["name"], headers={"X-Raw": "1"})


async def _queried(q: str, caller: Annotated[dict[str, Any], Depends(_who)]) -> _Out:
    return _Out(**caller, twice=q)


def lean_app(*, lean: bool) -> FastAPI:
    """The same routes, as `LeanRoute`s or as plain `APIRoute`s: a dependency asked for twice,
    the two security schemes, the request, a dependency that refuses, a route outside the lean
    shape (a query parameter)."""
    router = APIRouter(prefix="/lean")
    route_class = LeanRoute if lean else APIRoute
    routes: list[tuple[str, Any, Any]] = [
        ("/me", _answer, _Out),
        ("/raw", _raw, None),
        ("/q", _queried, _Out),
    ]
    for path, endpoint, model in routes:
        router.add_api_route(
            path, endpoint, methods=["GET"], response_model=model, route_class_override=route_class
        )
    app = FastAPI()
    app.include_router(router)
    return app


async def _answers(app: FastAPI) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    requests = [
        ("/lean/me", {"X-Who": "ada", "Authorization": "Bearer t0k", "X-API-Key": "k"}),
        ("/lean/me", {}),
        ("/lean/me", {"X-Who": "refused"}),
        ("/lean/raw", {"X-Who": "raw"}),
        ("/lean/q?q=1", {"X-Who": "q"}),
        ("/lean/q", {}),
    ]
    transport = httpx.ASGITransport(app=app)
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path, headers in requests:
            response = await client.get(path, headers=headers)
            out.append((response.status_code, response.headers.multi_items(), response.content))
    return out


async def test_a_lean_route_answers_as_fastapi_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bytes, statuses and headers; each dependency called once per request; FastAPI's
    solver skipped on the lean shape only, and used again under dependency overrides."""
    import fastapi.routing

    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await solve(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    plain, lean = lean_app(lean=False), lean_app(lean=True)
    _calls.clear()
    expected = await _answers(plain)
    calls = list(_calls)
    assert [status for status, _, _ in expected] == [200, 200, 401, 200, 200, 422]
    assert solved == ["/lean/me", "/lean/me", "/lean/me", "/lean/raw", "/lean/q", "/lean/q"]
    solved.clear()
    _calls.clear()
    assert await _answers(lean) == expected
    assert _calls == calls  # `_shared` once per request, not twice
    assert len(calls) == 6  # once per request (FastAPI solves them before a missing query fails)
    # No response model, a query parameter: FastAPI's own handler.
    assert solved == ["/lean/raw", "/lean/q", "/lean/q"]
    assert plain.openapi() == lean.openapi()

    solved.clear()

    async def stand_in() -> str:
        return "override"

    lean.dependency_overrides[_shared] = stand_in
    status, _, body = (await _answers(lean))[0]
    assert (status, solved[0]) == (200, "/lean/me")
    assert b'"name":"override"' in body
