"""The static-path index routes every request exactly as the full router does."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import httpx
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Cookie,
    Depends,
    FastAPI,
    Form,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
)
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer, SecurityScopes
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route

from oja.core.routing import LeanRoute, StaticRouteIndex, _leaves, index_static_routes
from tests.fastapi_solves import count_solves

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
    the two security schemes, the request, a dependency that refuses, a query parameter."""
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
    solved = count_solves(monkeypatch)
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
    assert solved == []  # the lean solver for all three (a Response, a query parameter)
    assert plain.openapi() == lean.openapi()

    solved.clear()

    async def stand_in() -> str:
        return "override"

    lean.dependency_overrides[_shared] = stand_in
    status, _, body = (await _answers(lean))[0]
    assert (status, solved[0]) == (200, "/lean/me")
    assert b'"name":"override"' in body


# The shapes of the marketplace's hot routes: parameters, a body, generators, the thread pool.

_events: list[str] = []


async def _function_session(who: Annotated[dict[str, Any], Depends(_who)]) -> Any:
    """Like `SessionDep`: ``scope="function"``, left before the response is sent."""
    _events.append(f"open {who['name']}")
    try:
        yield who["name"]
    except HTTPException as e:
        _events.append(f"rollback {e.status_code}")
        raise
    else:
        _events.append("commit")
    finally:
        _events.append("close")


async def _request_resource() -> Any:
    """A generator of the default (request) scope: left after the response is sent."""
    _events.append("acquire")
    yield "resource"
    _events.append("release")


def _sync_setting(request: Request) -> str:
    """A plain ``def``: FastAPI calls it on the thread pool."""
    import threading

    _events.append(f"sync on main: {threading.current_thread() is threading.main_thread()}")
    return request.headers.get("x-setting", "default")


def _sync_generator() -> Any:
    _events.append("sync enter")
    yield "sync"
    _events.append("sync exit")


async def _paged(
    page: Annotated[int, Query(ge=1)] = 1, size: Annotated[int, Query(ge=1, le=50)] = 20
) -> dict[str, int]:
    return {"page": page, "size": size}


async def _uncached(request: Request) -> int:
    _events.append("uncached")
    return len(_events)


async def _tasked(background: BackgroundTasks) -> str:
    background.add_task(_events.append, "task from a dependency")
    return "tasked"


class _Item(BaseModel):
    sku: str = Field(min_length=2)
    quantity: Annotated[int, Field(ge=1)] = 1
    tags: list[str] = []


class _Shaped(BaseModel):
    item_id: uuid.UUID
    n: int
    tags: list[str]
    flag: bool | None
    session: str
    resource: str
    setting: str
    paging: dict[str, int]
    agent: str | None
    cookie: str | None


async def _shaped(
    item_id: uuid.UUID,
    n: Annotated[int, Query(ge=0, le=10)],
    db: Annotated[str, Depends(_function_session, scope="function")],
    resource: Annotated[str, Depends(_request_resource)],
    setting: Annotated[str, Depends(_sync_setting)],
    paging: Annotated[dict[str, int], Depends(_paged)],
    tags: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    flag: bool | None = None,
    agent: Annotated[str | None, Header(alias="x-agent")] = None,
    cookie: Annotated[str | None, Cookie(alias="c")] = None,
) -> _Shaped:
    _events.append("endpoint")
    if n == 9:
        raise HTTPException(status_code=409, detail="nine")
    return _Shaped(
        item_id=item_id,
        n=n,
        tags=tags,
        flag=flag,
        session=db,
        resource=resource,
        setting=setting,
        paging=paging,
        agent=agent,
        cookie=cookie,
    )


async def _created(
    item: _Item,
    db: Annotated[str, Depends(_function_session, scope="function")],
    sync: Annotated[str, Depends(_sync_generator)],
    first: Annotated[int, Depends(_uncached, use_cache=False)],
    second: Annotated[int, Depends(_uncached, use_cache=False)],
    tasked: Annotated[str, Depends(_tasked)],
    background: BackgroundTasks,
) -> dict[str, Any]:
    background.add_task(_events.append, "task from the endpoint")
    return {
        "item": item.model_dump(),
        "db": db,
        "sync": sync,
        "calls": [first, second],
        "t": tasked,
    }


async def _raw_with_task(background: BackgroundTasks, key: str = "k") -> Response:
    background.add_task(_events.append, f"raw task {key}")
    return Response(f"raw {key}", media_type="text/plain")


async def _scoped(scopes: SecurityScopes) -> dict[str, Any]:
    return {"scopes": scopes.scopes}


async def _with_response(response: Response) -> dict[str, str]:
    response.headers["X-Set"] = "1"
    response.status_code = 202
    return {"set": "yes"}


async def _limit(response: Response, who: Annotated[dict[str, Any], Depends(_who)]) -> str:
    """Like the upload's rate limit: headers for the answer, or a refusal with its own."""
    if who["name"] == "limited":
        raise HTTPException(status_code=429, detail="slow down", headers={"Retry-After": "1"})
    response.headers["RateLimit-Remaining"] = "4"
    response.headers.append("X-Twice", "dependency")
    return str(who["name"])


async def _limited(
    name: Annotated[str, Depends(_limit)], response: Response, code: int = 0
) -> dict[str, str]:
    """The dependency's `Response` is the endpoint's too; a status set on it wins."""
    response.headers.append("X-Twice", "endpoint")
    if code:
        response.status_code = code
    return {"name": name}


async def _limited_raw(name: Annotated[str, Depends(_limit)]) -> PlainTextResponse:
    """A `Response` returned as is: the dependency's headers are not added to it."""
    return PlainTextResponse(name)


async def _form(name: Annotated[str, Form()]) -> dict[str, str]:
    return {"name": name}


def _sync_endpoint(n: int = 0) -> dict[str, int]:
    return {"n": n}


_SHAPED_ROUTES: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("GET", "/shaped/{item_id}", _shaped, {}),
    ("POST", "/created", _created, {"status_code": 201}),
    ("DELETE", "/created", _created, {"status_code": 204, "response_model": None}),
    ("GET", "/raw-task", _raw_with_task, {}),
    ("GET", "/with-response", _with_response, {}),
    ("POST", "/limited", _limited, {"status_code": 201}),
    ("DELETE", "/limited", _limited, {"status_code": 204, "response_model": None}),
    ("GET", "/limited-raw", _limited_raw, {}),
    # FastAPI's own handler: SecurityScopes, a form body, a sync endpoint.
    ("GET", "/scoped", _scoped, {}),
    ("POST", "/form", _form, {}),
    ("GET", "/sync", _sync_endpoint, {}),
]
_FALLBACKS = ["/x/scoped", "/x/form", "/x/sync"]


def shaped_app(*, lean: bool) -> FastAPI:
    router = APIRouter(prefix="/x")
    route_class = LeanRoute if lean else APIRoute
    for method, path, endpoint, extra in _SHAPED_ROUTES:
        router.add_api_route(
            path, endpoint, methods=[method], route_class_override=route_class, **extra
        )
    app = FastAPI()
    app.include_router(router)
    return app


_ID = "0b8e3a52-4c1f-4b7e-9a51-1f3f7e7c2d10"
_SHAPED_REQUESTS: list[tuple[str, str, dict[str, str], Any]] = [
    ("GET", f"/x/shaped/{_ID}?n=3&tags=a&tags=b&flag=yes&page=2", {"X-Who": "ada"}, None),
    (
        "GET",
        f"/x/shaped/{_ID}?n=3",
        {"X-Agent": "bot", "Cookie": "c=crumb", "X-Setting": "s"},
        None,
    ),
    ("GET", "/x/shaped/not-a-uuid?n=11&flag=maybe&size=0", {}, None),  # five errors, in order
    ("GET", f"/x/shaped/{_ID}", {}, None),  # missing n
    ("GET", f"/x/shaped/{_ID}?n=9", {}, None),  # the endpoint raises: the session rolls back
    ("GET", f"/x/shaped/{_ID}?n=1", {"X-Who": "refused"}, None),  # a dependency refuses
    ("POST", "/x/created", {}, {"sku": "ab", "quantity": 2, "tags": ["x"]}),
    ("POST", "/x/created", {}, {"sku": "a", "quantity": 0}),  # two body errors
    ("POST", "/x/created", {}, [1, 2]),
    ("POST", "/x/created", {}, None),  # no body: missing
    ("POST", "/x/created", {"Content-Type": "application/json"}, b'{"sku": '),  # bad JSON
    ("POST", "/x/created", {"Content-Type": "text/plain"}, b'{"sku": "ab"}'),  # not JSON
    ("POST", "/x/created", {"Content-Type": "application/vnd.x+json"}, b'{"sku": "ab"}'),
    ("DELETE", "/x/created", {}, {"sku": "ab"}),  # 204: no body
    ("GET", "/x/raw-task?key=z", {}, None),
    ("GET", "/x/scoped", {}, None),
    ("GET", "/x/with-response", {}, None),
    ("POST", "/x/limited", {"X-Who": "ada"}, None),  # the dependency's headers, then the endpoint's
    ("POST", "/x/limited?code=202", {"X-Who": "ada"}, None),  # a status set on the Response
    ("POST", "/x/limited", {"X-Who": "limited"}, None),  # refused: its own headers only
    ("POST", "/x/limited?code=x", {"X-Who": "ada"}, None),  # 422: no headers from the Response
    ("DELETE", "/x/limited", {}, None),  # 204: no body, the headers still
    ("DELETE", "/x/limited?code=200", {}, None),  # 200 set on the Response: the body kept
    ("GET", "/x/limited-raw", {"X-Who": "ada"}, None),
    ("POST", "/x/form", {}, {"name": "n"}),
    ("GET", "/x/sync?n=4", {}, None),
]


async def _shaped_answers(app: FastAPI) -> list[tuple[Any, ...]]:
    """Each request's status, headers, body and the events it caused, in order, with the
    moment the response started marked (a ``scope="function"`` generator is left before it,
    a request-scoped one after it)."""

    async def marking(scope: Any, receive: Any, send: Any) -> None:
        async def marked(message: Any) -> None:
            if message["type"] == "http.response.start":
                _events.append(f"response {message['status']}")
            await send(message)

        await app(scope, receive, marked)

    transport = httpx.ASGITransport(app=marking)
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for method, path, headers, payload in _SHAPED_REQUESTS:
            _events.clear()
            if path == "/x/form":
                response = await client.request(method, path, headers=headers, data=payload)
            elif isinstance(payload, bytes):
                response = await client.request(method, path, headers=headers, content=payload)
            elif payload is not None:
                response = await client.request(method, path, headers=headers, json=payload)
            else:
                response = await client.request(method, path, headers=headers)
            out.append(
                (
                    method,
                    path,
                    response.status_code,
                    response.headers.multi_items(),
                    response.content,
                    list(_events),
                )
            )
    return out


async def test_a_lean_route_solves_parameters_bodies_and_generators_as_fastapi_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Path, query (scalar and list), header and cookie parameters, a JSON body model, async
    and sync generators of both scopes, plain ``def`` dependencies, uncached dependencies and
    background tasks: the same statuses, headers, bytes (422 bodies included) and the same
    events in the same order (the function-scoped session closes before the response starts,
    the request-scoped resource after); FastAPI's solver runs for the fallbacks only."""
    solved = count_solves(monkeypatch)
    plain, lean = shaped_app(lean=False), shaped_app(lean=True)
    expected = await _shaped_answers(plain)
    # Every request but the one with broken JSON (refused before any dependency).
    assert len(solved) == len(_SHAPED_REQUESTS) - 1
    solved.clear()
    assert await _shaped_answers(lean) == expected
    assert sorted(set(solved)) == sorted(_FALLBACKS)
    assert plain.openapi() == lean.openapi()

    # The cases the comparison must cover, by value (a bug both handlers shared would hide).
    statuses = [status for _, _, status, *_ in expected]
    assert statuses == [
        200,
        200,
        422,
        422,
        409,
        401,
        201,
        422,
        422,
        422,
        422,
        422,
        201,
        204,
        200,
        200,
        202,
        201,
        202,
        429,
        422,
        204,
        200,
        200,
        200,
        200,
    ]
    first = expected[0]
    assert first[5] == [
        "open ada",
        "acquire",
        "sync on main: False",
        "endpoint",
        "commit",
        "close",
        "response 200",
        "release",
    ]
    # The endpoint raises: the session sees it and closes before the error response starts.
    assert expected[4][5][-4:] == ["endpoint", "rollback 409", "close", "response 409"]
    errors = json.loads(expected[2][4])["detail"]
    assert [e["loc"] for e in errors] == [
        ["query", "size"],
        ["path", "item_id"],
        ["query", "n"],
        ["query", "flag"],
    ]
    created = expected[6]
    assert json.loads(created[4])["calls"][1] == json.loads(created[4])["calls"][0] + 1
    # The sync generator (request scope) is left after the response and its tasks.
    assert created[5][-4:] == [
        "response 201",
        "task from a dependency",
        "task from the endpoint",
        "sync exit",
    ]
    assert expected[14][5][-1] == "raw task z"
    # `Response` parameters: what the dependency and the endpoint set, in that order.
    limited, coded, refused, invalid, deleted, deleted_200, raw = expected[17:24]
    assert (limited[2], json.loads(limited[4])) == (201, {"name": "ada"})
    assert ("ratelimit-remaining", "4") in limited[3]
    assert [v for k, v in limited[3] if k == "x-twice"] == ["dependency", "endpoint"]
    assert ("ratelimit-remaining", "4") in coded[3]
    assert ("retry-after", "1") in refused[3]
    for answer in (refused, invalid, raw):
        assert not [k for k, _ in answer[3] if k in ("ratelimit-remaining", "x-twice")]
    assert deleted[4] == b""
    assert ("ratelimit-remaining", "4") in deleted[3]
    assert json.loads(deleted_200[4]) == {"name": "nobody"}


def test_the_apps_lean_routes_take_the_lean_solver(app: Any) -> None:
    """The shopping day's routes and the upload are `LeanRoute`s whose trees fit the plan (none
    silently falls back to FastAPI's handler for its shape)."""
    lean = {}
    for leaf in _leaves(app.router.routes):
        route = getattr(leaf, "original_route", leaf)
        if isinstance(route, LeanRoute):
            handler = route.get_route_handler()
            lean[(*sorted(route.methods), leaf.path)] = "LeanRoute" in handler.__qualname__
    assert lean == {
        ("GET", "/user/me"): True,
        ("GET", "/chatroom"): True,
        ("GET", "/products"): True,
        ("GET", "/products/{product_id}"): True,
        ("GET", "/order-groups/{group_id}"): True,
        ("GET", "/cart"): True,
        ("POST", "/cart/items"): True,
        ("POST", "/checkout"): True,
        ("GET", "/recommendations"): True,
        ("GET", "/search"): True,
        ("POST", "/upload"): True,
    }
