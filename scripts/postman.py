"""Generate the Postman collection (v2.1) from Oja's OpenAPI document: ``make postman``.

Output: ``docs/postman/oja.postman_collection.json``. One folder per OpenAPI tag, plus two flows that
run in order with a status check on each step:

- "Core flow (seed 001)": signup → login → create / list / read a chatroom → send a message → read
  it → subscription status;
- "Marketplace (seed 003)": the vendor and the buyer journeys — an admin (``adminEmail`` /
  ``adminPassword``) approves a new store, the vendor lists a product, a buyer finds it, carts it,
  checks out, pays on the payment page (``oja serve --sandbox``'s Paystack fake), the store confirms
  its order by payment and ships and delivers it, the buyer reviews it, and the store reads its
  balance. Each role's token is its own variable (``vendorToken``, ``buyerToken``, ``adminToken``).

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
MARKETPLACE_FOLDER = "Marketplace (seed 003)"
ADDRESS = {
    "name": "Ada Obi",
    "line1": "12 Allen Avenue",
    "city": "Ikeja",
    "state": "Lagos",
    "country": "NG",
    "phone": "+2348012345678",
}


def _step(
    name: str,
    method: str,
    path: str,
    *,
    role: str | None,
    status: int,
    body: Any = None,
    capture: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    url: str | None = None,
    pre: list[str] | None = None,
    check: list[str] | None = None,
) -> dict[str, Any]:
    """One step of the marketplace flow: who calls (a role's token, or none), the status it must
    answer, what it stores for later steps (variable → JavaScript expression over ``body``)."""
    return {
        "name": name,
        "method": method,
        "path": path,
        "role": role,
        "status": status,
        "body": body,
        "capture": capture or {},
        "headers": headers or {},
        "url": url,
        "pre": pre or [],
        "check": check or [],
    }


MARKETPLACE_FLOW = [
    _step(
        "admin signs in",
        "post",
        "/auth/login",
        role=None,
        status=200,
        body={"email": "{{adminEmail}}", "password": "{{adminPassword}}"},
        capture={"adminToken": "body.access_token"},
    ),
    _step(
        "vendor signs up",
        "post",
        "/auth/signup",
        role=None,
        status=201,
        body={"email": "{{vendorEmail}}", "password": "{{password}}"},
        pre=["pm.collectionVariables.set('vendorEmail', 'vendor' + Date.now() + '@example.com');"],
    ),
    _step(
        "vendor signs in",
        "post",
        "/auth/login",
        role=None,
        status=200,
        body={"email": "{{vendorEmail}}", "password": "{{password}}"},
        capture={"vendorToken": "body.access_token"},
    ),
    _step(
        "vendor opens a store",
        "post",
        "/vendors",
        role="vendor",
        status=201,
        body={"name": "Adire House {{$timestamp}}", "contact_email": "{{vendorEmail}}"},
        capture={"vendor_id": "body.id"},
        check=["pm.expect(body.status).to.eql('pending');"],
    ),
    _step(
        "admin approves the store",
        "post",
        "/admin/vendors/{vendor_id}/approve",
        role="admin",
        status=200,
        body={},
        check=["pm.expect(body.status).to.eql('approved');"],
    ),
    _step(
        "vendor lists a product",
        "post",
        "/products",
        role="vendor",
        status=201,
        body={
            "title": "Adire indigo shirt",
            "description": "Hand-dyed cotton, made in Abeokuta.",
            "status": "active",
            "variants": [
                {"sku": "ADIRE-M", "options": {"size": "M"}, "price": 1500000, "stock": 5}
            ],
        },
        capture={"product_id": "body.id", "variant_id": "body.variants[0].id"},
    ),
    _step(
        "anyone browses the store's products",
        "get",
        "/products",
        role=None,
        status=200,
        url="{{baseUrl}}/products?vendor={{vendor_id}}",
        check=[
            "pm.expect(body.items.map(p => p.id)).to.include(pm.collectionVariables.get('product_id'));"
        ],
    ),
    _step(
        "buyer signs up",
        "post",
        "/auth/signup",
        role=None,
        status=201,
        body={"email": "{{buyerEmail}}", "password": "{{password}}"},
        pre=["pm.collectionVariables.set('buyerEmail', 'buyer' + Date.now() + '@example.com');"],
    ),
    _step(
        "buyer signs in",
        "post",
        "/auth/login",
        role=None,
        status=200,
        body={"email": "{{buyerEmail}}", "password": "{{password}}"},
        capture={"buyerToken": "body.access_token"},
    ),
    _step(
        "buyer views the product",
        "get",
        "/products/{product_id}",
        role="buyer",
        status=200,
        check=["pm.expect(body.variants[0].stock).to.eql(5);"],
    ),
    _step(
        "buyer adds two to the cart",
        "post",
        "/cart/items",
        role="buyer",
        status=201,
        body={"variant_id": "{{variant_id}}", "quantity": 2},
    ),
    _step(
        "buyer reads the cart",
        "get",
        "/cart",
        role="buyer",
        status=200,
        check=["pm.expect(body.total).to.eql(3000000);"],
    ),
    _step(
        "buyer checks out",
        "post",
        "/checkout",
        role="buyer",
        status=201,
        body={"shipping_address": ADDRESS, "provider": "paystack"},
        headers={"Idempotency-Key": "{{$guid}}"},
        capture={
            "order_group_id": "body.order_group_id",
            "order_id": "body.orders[0].id",
            "authorization_url": "body.payment.authorization_url",
        },
    ),
    _step(
        "buyer pays on the payment page",
        "post",
        "/pay",
        role=None,
        status=200,
        url="{{authorization_url}}/pay",
        headers={"Accept": "application/json"},
        check=["pm.expect(body.status).to.eql('success');"],
    ),
    _step(
        "the order group is paid",
        "get",
        "/order-groups/{group_id}",
        role="buyer",
        status=200,
        url="{{baseUrl}}/order-groups/{{order_group_id}}",
        check=["pm.expect(body.status).to.eql('paid');"],
    ),
    _step(
        "vendor sees the confirmed order",
        "get",
        "/vendors/me/orders/{order_id}",
        role="vendor",
        status=200,
        check=["pm.expect(body.status).to.eql('confirmed');"],
    ),
    _step(
        "vendor ships it",
        "post",
        "/vendors/me/orders/{order_id}/ship",
        role="vendor",
        status=200,
        body={"carrier": "GIG Logistics", "tracking_number": "GIG{{$timestamp}}"},
        check=["pm.expect(body.status).to.eql('shipped');"],
    ),
    _step(
        "vendor marks it delivered",
        "post",
        "/vendors/me/orders/{order_id}/deliver",
        role="vendor",
        status=200,
        check=["pm.expect(body.status).to.eql('delivered');"],
    ),
    _step(
        "buyer reviews the product",
        "post",
        "/products/{product_id}/reviews",
        role="buyer",
        status=201,
        body={"rating": 5, "title": "True indigo", "body": "The dye is deep and even. Fits well."},
    ),
    _step(
        "vendor reads its balance",
        "get",
        "/vendors/me/balance",
        role="vendor",
        status=200,
    ),
]
"""The marketplace folder, in order. Paying needs the sandbox's Paystack fake: its payment page
sends the webhook, and "the order group is paid" is asked again (up to 40 times, half a second
apart) until the worker has verified the payment."""
POLLED = {"the order group is paid": "body.status !== 'paid'"}

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


def marketplace_item(document: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """A request of the marketplace flow: the operation's item, with the step's caller, body,
    headers and checks."""
    method, path = step["method"], step["path"]
    if path in document["paths"]:
        item = request_item(document, method, path)
    else:  # the payment page: the provider's, not Oja's
        item = {"name": "", "request": {"method": method.upper(), "header": [], "url": {}}}
    request = item["request"]
    item["name"] = step["name"]
    if step["url"] is not None:
        request["url"] = step["url"]  # a string: parsed once its variables are resolved
    role = step["role"]
    request["auth"] = (
        {"type": "noauth"}
        if role is None
        else {
            "type": "bearer",
            "bearer": [{"key": "token", "value": f"{{{{{role}Token}}}}", "type": "string"}],
        }
    )
    request["header"] = [h for h in request["header"] if h["key"] not in step["headers"]]
    request["header"] += [{"key": k, "value": v} for k, v in step["headers"].items()]
    if step["body"] is not None:
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(step["body"], indent=2, ensure_ascii=False),
            "options": {"raw": {"language": "json"}},
        }
        if not any(h["key"] == "Content-Type" for h in request["header"]):
            request["header"].append({"key": "Content-Type", "value": "application/json"})
    else:
        request.pop("body", None)
    script = ["let body = null;", "try { body = pm.response.json(); } catch (e) {}"]
    waiting = POLLED.get(step["name"])
    if waiting is not None:
        script += [
            "const polls = Number(pm.collectionVariables.get('polls') || 0);",
            f"if (body && {waiting} && polls < 40) {{",
            "    pm.collectionVariables.set('polls', polls + 1);",
            "    setTimeout(function () {}, 500);",
            "    postman.setNextRequest(pm.info.requestName);",
            "} else {",
            "pm.collectionVariables.set('polls', 0);",
        ]
    script += [
        f"pm.test({json.dumps(step['name'] + ': ' + str(step['status']))}, function () {{",
        f"    pm.expect(pm.response.code).to.eql({step['status']});",
        *(f"    {line}" for line in step["check"]),
        "});",
    ]
    script += [
        f"if (body && body.{expression.split('.')[1].split('[')[0]}) "
        f"pm.collectionVariables.set('{variable}', {expression});"
        for variable, expression in step["capture"].items()
    ]
    if waiting is not None:
        script.append("}")
    item["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": script}}]
    if step["pre"]:
        item["event"].append(
            {"listen": "prerequest", "script": {"type": "text/javascript", "exec": step["pre"]}}
        )
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
    marketplace = [marketplace_item(document, step) for step in MARKETPLACE_FLOW]
    variables |= {
        "adminEmail": "admin@example.com",
        "adminPassword": "",
        "adminToken": "",
        "vendorEmail": "",
        "vendorToken": "",
        "buyerEmail": "",
        "buyerToken": "",
        "authorization_url": "",
        "polls": "0",
    }
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
            {"name": MARKETPLACE_FOLDER, "item": marketplace},
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
