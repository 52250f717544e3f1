"""Error codes are a client contract: one enum per module, one meaning and one status per code, no
code chosen at a raise site, and every route's codes in its OpenAPI responses."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

import oja
from oja.core.errors import (
    CoreErrorCode,
    ErrorCode,
    ErrorEnvelope,
    NotConfigured,
    NotFound,
    OjaError,
    TooManyRequests,
    errors,
)

SRC = Path(oja.__file__).parent


def _import_everything() -> None:
    for module in pkgutil.walk_packages(oja.__path__, "oja."):
        if module.name.startswith(("oja.migrations", "oja.sandbox")):
            continue
        importlib.import_module(module.name)


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _error_classes() -> list[type[OjaError]]:
    _import_everything()
    return [c for c in set(_subclasses(OjaError)) if c.__module__.startswith("oja.")] + [OjaError]


def _module_of(qualified: str) -> str:
    """``oja.files.errors`` → ``files``; the kernel's sub-packages (``oja.core.ai``) are core's."""
    return qualified.split(".")[1]


def test_every_code_belongs_to_exactly_one_enum() -> None:
    _import_everything()
    enums = [e for e in _subclasses(ErrorCode) if e.__module__.startswith("oja.")]
    owners: dict[str, list[str]] = defaultdict(list)
    for enum in enums:
        for member in enum:
            owners[member.value].append(enum.__name__)
    assert CoreErrorCode in enums
    assert {code: names for code, names in owners.items() if len(names) > 1} == {}


def test_one_enum_per_module() -> None:
    _import_everything()
    per_module: dict[str, list[str]] = defaultdict(list)
    for enum in _subclasses(ErrorCode):
        if enum.__module__.startswith("oja."):
            per_module[_module_of(enum.__module__)].append(enum.__name__)
    assert {module: names for module, names in per_module.items() if len(names) > 1} == {}
    modules = ("core", "identity", "files", "documents", "rag", "chat", "billing", "notifications")
    for module in modules:
        assert module in per_module, f"oja.{module} has no ErrorCode enum"


def test_each_error_takes_its_code_from_its_module_or_the_kernel() -> None:
    wrong = []
    for error in _error_classes():
        enum = type(error.code)
        own = _module_of(enum.__module__) == _module_of(error.__module__)
        if not isinstance(error.code, ErrorCode) or not (own or enum is CoreErrorCode):
            wrong.append(f"{error.__module__}.{error.__qualname__}: {error.code!r}")
    assert wrong == []


def test_one_code_has_one_status() -> None:
    statuses: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for error in _error_classes():
        name = f"{error.__module__}.{error.__qualname__}"
        statuses[str(error.code)][error.status_code].append(name)
    clashes = {code: dict(by) for code, by in statuses.items() if len(by) > 1}
    assert clashes == {}


def _code_keywords(source: str, error_names: set[str]) -> list[int]:
    """Lines where an error is built with ``code=`` — in a ``raise`` or by an error class's name."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        call = node.exc if isinstance(node, ast.Raise) else node
        if not isinstance(call, ast.Call):
            continue
        callee = call.func
        name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
        builds_error = isinstance(node, ast.Raise) or name in error_names
        if builds_error and any(keyword.arg == "code" for keyword in call.keywords):
            lines.append(call.lineno)
    return sorted(set(lines))


def test_the_code_keyword_check_finds_what_it_must() -> None:
    names = {"NotFound"}
    assert _code_keywords('raise NotFound("x", code="y")', names) == [1]
    assert _code_keywords('raise errors.Anything("x", code="y")', names) == [1]
    assert _code_keywords('e = NotFound("x", code="y")', names) == [1]
    assert _code_keywords('info = ErrorInfo(code="y")\nraise NotFound("x")', names) == []


def test_no_raise_site_chooses_its_code() -> None:
    names = {error.__name__ for error in _error_classes()}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("migrations/"):
            continue
        found += [f"{relative}:{line}" for line in _code_keywords(path.read_text(), names)]
    assert found == [], "raise a dedicated subclass instead of passing code="


class _Gone(NotFound):
    """The thing is ``gone`` for good.

    More words that the example leaves out.
    """


def test_errors_groups_codes_by_status_with_an_example_each() -> None:
    responses = errors(NotFound, _Gone, TooManyRequests, NotConfigured, NotFound)
    assert list(responses) == [404, 429, 503]
    assert responses[404]["model"] is ErrorEnvelope
    assert responses[404]["description"] == "Not Found: `not_found`"
    assert responses[429]["description"] == "Too Many Requests: `rate_limited`"
    examples = responses[404]["content"]["application/json"]["examples"]
    assert list(examples) == ["not_found"]  # one example per code: _Gone shares NotFound's


def test_errors_describes_each_code() -> None:
    class StaleThing(NotFound):
        code = CoreErrorCode.CONFLICT  # any member: only the rendering is under test

    responses = errors(StaleThing, _Gone)
    assert responses[404]["description"] == "Not Found: `conflict`, `not_found`"
    examples = responses[404]["content"]["application/json"]["examples"]
    assert examples["conflict"] == {
        "summary": "Stale thing",
        "value": {"error": {"code": "conflict", "message": "Stale thing.", "details": None}},
    }
    assert examples["not_found"] == {
        "summary": "Gone",
        "description": "The thing is `gone` for good.",
        "value": {"error": {"code": "not_found", "message": "Gone.", "details": None}},
    }


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every schema-listed route with its full path (FastAPI 0.165 keeps included routers as
    branches, as tests/reliability/harness.py walks them)."""
    for route in routes:
        if type(route).__name__ == "_IncludedRouter":
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute) and route.include_in_schema:
            yield prefix + route.path_format, route


def _documented(app: Any) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    paths = app.openapi()["paths"]
    seen = 0
    for path, route in _routes(list(app.router.routes)):
        for method in route.methods:
            seen += 1
            for status, response in paths[path][method.lower()]["responses"].items():
                if int(status) >= 400:
                    yield method, path, status, response
    assert seen > 30, "the walk missed the feature routes"


def test_every_error_a_route_documents_lists_its_codes(app: Any) -> None:
    known = {str(error.code) for error in _error_classes()}
    bare = []
    for method, path, status, response in _documented(app):
        content = response["content"]["application/json"]
        if not content["schema"]["$ref"].endswith("/ErrorEnvelope"):
            continue  # FastAPI's own 422 where no route lists validation_error; /readyz's report
        examples = content.get("examples", {})
        if not examples:
            bare.append(f"{method} {path} {status}")
        for code, example in examples.items():
            assert code in known, (method, path, status, code)
            assert f"`{code}`" in response["description"]
            assert example["value"]["error"]["code"] == code
    assert bare == [], "list the error classes with errors(...), not bare statuses"
