"""Every marketplace route is documented: a summary, its answer's schema, its error answers, and
examples for what a client sends and gets."""

from __future__ import annotations

from typing import Any

MARKETPLACE_PREFIXES = (
    "/vendors",
    "/admin/vendors",
    "/categories",
    "/products",
    "/orders",
    "/order-groups",
)


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "items" in schema and schema.get("type") == "array":
        return _schema(document, schema["items"])
    return schema


def _documented_example(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    resolved = _schema(document, schema)
    if "examples" in resolved or "example" in resolved:
        return True
    # A page: its items carry the example.
    items = resolved.get("properties", {}).get("items")
    return items is not None and _documented_example(document, items)


def test_every_marketplace_route_is_documented(app: Any) -> None:
    document = app.openapi()
    problems = []
    seen = 0
    for path, operations in document["paths"].items():
        if not path.startswith(MARKETPLACE_PREFIXES):
            continue
        for method, operation in operations.items():
            seen += 1
            where = f"{method.upper()} {path}"
            if not operation.get("summary"):
                problems.append(f"{where}: no summary")
            responses = operation["responses"]
            if not any(code[0] in "45" for code in responses):
                problems.append(f"{where}: no error responses")
            ok = [code for code in responses if code.startswith("2")]
            for code in ok:
                content = responses[code].get("content", {}).get("application/json")
                if content is None:  # a stream (the order's SSE events) or no body
                    continue
                if code != "204" and not _documented_example(document, content["schema"]):
                    problems.append(f"{where}: {code} answer has no example")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                schema = body["schema"]
                options = schema.get("anyOf", [schema])
                if not any(
                    _documented_example(document, s) for s in options if s.get("type") != "null"
                ):
                    problems.append(f"{where}: request body has no example")
    assert seen >= 25
    assert problems == [], "\n".join(problems)
