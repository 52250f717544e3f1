"""Validation of model output against the JSON Schema subset structured output uses.

Supported keywords: ``type`` (one or a list), ``properties``, ``required``,
``additionalProperties: false``, ``enum``, ``items``, ``anyOf``, ``maxLength``. That is what OpenAI
strict mode and Gemini accept, so a schema Oja sends is always fully checked here; an unsupported
keyword raises rather than being silently ignored.
"""

from __future__ import annotations

import json
from typing import Any

from oja.core.ai.errors import StructuredOutputInvalid

_KNOWN = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "items",
        "anyOf",
        "maxLength",
        "description",
        "title",
    }
)
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def problems(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``; empty when it conforms."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"unsupported JSON Schema keywords at {path}: {sorted(unknown)}")
    if "anyOf" in schema:
        options = [problems(value, option, path) for option in schema["anyOf"]]
        if all(options):
            return [f"{path}: matches none of the allowed shapes"]
    found: list[str] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, name) for name in names):
            return [f"{path}: expected {' or '.join(names)}, got {_json_type(value)}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: missing required property {name!r}")
        if schema.get("additionalProperties") is False:
            found.extend(
                f"{path}: unexpected property {name!r}" for name in value if name not in properties
            )
        for name, sub in properties.items():
            if name in value:
                found.extend(problems(value[name], sub, f"{path}.{name}"))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found.extend(problems(item, schema["items"], f"{path}[{index}]"))
    return found


def parse_and_validate(raw: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON object in ``raw`` (a Markdown code fence around it is tolerated), validated."""
    text = raw.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StructuredOutputInvalid(
            f"The model's reply is not JSON: {exc.msg} at position {exc.pos}.",
            raw=raw,
            problems=[f"not JSON: {exc.msg}"],
        ) from exc
    found = problems(value, schema)
    if found:
        raise StructuredOutputInvalid(
            "The model's reply does not match the schema: " + "; ".join(found[:5]),
            raw=raw,
            problems=found,
        )
    assert isinstance(value, dict)
    return value


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name):
            return name
    return type(value).__name__
