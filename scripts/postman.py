"""Generate the Postman collection (v2.1) from Oja's OpenAPI document: ``make postman``.

Output: ``docs/postman/oja.postman_collection.json``. One folder per OpenAPI tag, plus a first folder,
"Core flow (seed 001)", that runs the seed's journey in order with a 2xx check on each step:
signup → login → create / list / read a chatroom → send a message → read it → subscription status.

- ``{{baseUrl}}`` and ``{{token}}`` are collection variables; the collection authenticates with
  ``Bearer {{token}}`` and routes the OpenAPI document marks public use ``noauth``.
- Bodies are the schema's first example (pydantic ``examples``), else a sample built from the schema;
  ``email``, ``password`` and ``mobile`` become variables so signup and login agree (a pre-request
  script picks a fresh email per run).
- Login, verify-otp and every other response carrying ``access_token`` set ``token``; creating a
  resource sets the path variable its routes use (``POST /chatroom`` sets ``{{chatroom_id}}``).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "postman" / "oja.postman_collection.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
CORE_FOLDER = "Core flow (seed 001)"
CORE_FLOW = [
    ("post", "/auth/signup"),
    ("post", "/auth/login"),
    ("post", "/chatroom"),
    ("get", "/chatroom"),
    ("get", "/chatroom/{chatroom_id}"),
    ("post", "/chatroom/{chatroom_id}/message"),
    ("get", "/chatroom/{chatroom_id}/messages/{message_id}"),
    ("get", "/subscription/status"),
]
BODY_VARIABLES = {"email": "{{email}}", "password": "{{password}}", "mobile": "{{mobile}}"}
CAPTURES: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/chatroom/{chatroom_id}/message"): {"message_id": "user_message.id"},
}
"""Path variables a response sets, where the generic rule (the ``id`` of a created item) is wrong."""
METHODS = ("get", "post", "put", "patch", "delete")
PRE_REQUEST = [
    "if (!pm.collectionVariables.get('email')) {",
    "    pm.collectionVariables.set('email', 'user' + Date.now() + '@example.com');",
    "}",
]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _sample(document: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """A value for ``schema``: its example if it has one, else built from its type."""
    schema = _resolve(document, schema)
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if o.get("type") != "null"]
        if options:
            return _sample(document, options[0], depth)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        required = schema.get("required", list(schema.get("properties", {})))
        return {
            name: _sample(document, prop, depth + 1)
            for name, prop in schema.get("properties", {}).items()
            if name in required
        }
    if kind == "array":
        return [_sample(document, schema.get("items", {}), depth + 1)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if "enum" in schema:
        return schema["enum"][0]
    return "string"


def _with_variables(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: BODY_VARIABLES[k] if k in BODY_VARIABLES else _with_variables(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_with_variables(v) for v in value]
    return value


def _body(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        sample = _with_variables(_sample(document, content["application/json"].get("schema", {})))
        return {
            "mode": "raw",
            "raw": json.dumps(sample, indent=2, ensure_ascii=False),
            "options": {"raw": {"language": "json"}},
        }
    if "multipart/form-data" in content:
        schema = _resolve(document, content["multipart/form-data"].get("schema", {}))
        fields = []
        for name, prop in schema.get("properties", {}).items():
            if prop.get("format") == "binary":
                fields.append({"key": name, "type": "file", "src": []})
            else:
                fields.append({"key": name, "type": "text", "value": str(_sample(document, prop))})
        return {"mode": "formdata", "formdata": fields}
    return None


def _response_properties(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for status, response in operation.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema:
            resolved = _resolve(document, schema)
            for option in [resolved, *resolved.get("anyOf", []), *resolved.get("oneOf", [])]:
                names |= set(_resolve(document, option).get("properties", {}))
    return names


def _captures(
    document: dict[str, Any], method: str, path: str, operation: dict[str, Any]
) -> list[str]:
    """Test-script lines storing what later requests need: the token, created ids."""
    lines: list[str] = []
    returned = _response_properties(document, operation)
    if "access_token" in returned:
        lines += [
            "if (body && body.access_token) {",
            "    pm.collectionVariables.set('token', body.access_token);",
            "}",
            "if (body && body.refresh_token) {",
            "    pm.collectionVariables.set('refreshToken', body.refresh_token);",
            "}",
        ]
    explicit = CAPTURES.get((method, path))
    if explicit is not None:
        for variable, field in explicit.items():
            lines.append(
                f"if (body && body.{field.split('.')[0]}) "
                f"pm.collectionVariables.set('{variable}', body.{field});"
            )
    elif method == "post":
        for other in document["paths"]:
            match = re.fullmatch(re.escape(path) + r"/\{(\w+)\}", other)
            if match:
                variable = match.group(1)
                lines.append(
                    f"if (body && (body.{variable} || body.id)) "
                    f"pm.collectionVariables.set('{variable}', body.{variable} || body.id);"
                )
    if lines:
        lines = ["let body = null;", "try { body = pm.response.json(); } catch (e) {}", *lines]
    return lines


def _url(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    postman_path = re.sub(r"\{(\w+)\}", r"{{\1}}", path)
    query = [
        {
            "key": p["name"],
            "value": str(p.get("schema", {}).get("default", "")),
            "disabled": not p.get("required", False),
            "description": p.get("description", ""),
        }
        for p in operation.get("parameters", [])
        if p.get("in") == "query"
    ]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}" + postman_path,
        "host": ["{{baseUrl}}"],
        "path": [part for part in postman_path.split("/") if part],
    }
    if query:
        url["query"] = query
    return url


def request_item(
    document: dict[str, Any], method: str, path: str, *, check_success: bool = False
) -> dict[str, Any]:
    operation = document["paths"][path][method]
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [],
        "url": _url(path, operation),
        "description": operation.get("description", ""),
    }
    body = _body(document, operation)
    if body is not None:
        request["body"] = body
        if body["mode"] == "raw":
            request["header"].append({"key": "Content-Type", "value": "application/json"})
    if not operation.get("security"):
        request["auth"] = {"type": "noauth"}
    item: dict[str, Any] = {
        "name": operation.get("summary") or f"{method.upper()} {path}",
        "request": request,
    }
    script = _captures(document, method, path, operation)
    if check_success:
        script = [
            f"pm.test('{method.upper()} {path} succeeds', function () {{",
            "    pm.expect(pm.response.code).to.be.within(200, 299);",
            "});",
            *script,
        ]
    if script:
        item["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": script}}]
    return item


def build(document: dict[str, Any]) -> dict[str, Any]:
    folders: dict[str, list[dict[str, Any]]] = {}
    variables = {"baseUrl": "http://127.0.0.1:8000", "token": "", "refreshToken": ""}
    variables |= {"email": "", "password": "correct horse battery", "mobile": "+2348031234567"}
    for path, operations in document["paths"].items():
        for method in METHODS:
            if method not in operations:
                continue
            tag = (operations[method].get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append(request_item(document, method, path))
            for name in re.findall(r"\{(\w+)\}", path):
                variables.setdefault(name, "")
    core = [request_item(document, m, p, check_success=True) for m, p in CORE_FLOW]
    return {
        "info": {
            "name": document["info"]["title"],
            "description": (
                f"Generated from the OpenAPI document of {document['info']['title']} "
                f"{document['info']['version']} by scripts/postman.py (`make postman`). Set "
                "`baseUrl`, run the core-flow folder, and every other request reuses `token`."
            ),
            "schema": SCHEMA,
        },
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}],
        },
        "event": [
            {"listen": "prerequest", "script": {"type": "text/javascript", "exec": PRE_REQUEST}}
        ],
        "variable": [{"key": k, "value": v, "type": "string"} for k, v in variables.items()],
        "item": [
            {"name": CORE_FOLDER, "item": core},
            *({"name": tag, "item": items} for tag, items in folders.items()),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    from oja.main import create_app

    collection = build(create_app().openapi())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(collection, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
