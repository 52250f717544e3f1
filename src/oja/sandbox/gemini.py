"""A Gemini API fake, shaped after ai.google.dev/api (``v1beta``).

``POST /v1beta/models/{model}:generateContent`` answers a ``GenerateContentResponse``
(``candidates[].content.parts[].text``, ``finishReason``, ``usageMetadata``);
``:streamGenerateContent?alt=sse`` sends the same shape as server-sent chunks. Replies are
deterministic: an extractive summary of the last user turn (or of the ``<document>`` data), or, with
``generationConfig.responseMimeType: application/json`` and a ``responseJsonSchema`` /
``responseSchema``, JSON filled from Oja's offline heuristics.

The key comes in ``x-goog-api-key`` or ``?key=``. Errors use Google's body
``{"error": {"code", "message", "status", "details"}}``: 401 UNAUTHENTICATED without a key, 400
INVALID_ARGUMENT for a wrong one, 429 RESOURCE_EXHAUSTED with a ``google.rpc.RetryInfo``
``retryDelay`` (knob :meth:`GeminiFake.fail_next`), 500 INTERNAL. ``latency`` delays every answer
(the chat benchmark uses 0.2 s); every call is appended to :attr:`GeminiFake.calls`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from oja.core.ai.base import Message, Role
from oja.core.ai.heuristics import summarize
from oja.core.ai.local import analyse, fill_schema, subject_text
from oja.core.ai.prompting import estimate_tokens
from oja.sandbox.base import Failure, ScriptedFailures, fake_app, json_object

DEFAULT_API_KEY = "AIzaSy-sandbox-gemini-key"
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    401: "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}


@dataclass
class Call:
    model: str
    method: str
    body: dict[str, Any]
    status: int


def _error(
    status: int, message: str | None = None, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    error: dict[str, Any] = {
        "code": status,
        "message": message or _MESSAGES.get(status, "Error"),
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status)


class GeminiFake(ScriptedFailures[Call]):
    def __init__(self, api_key: str = DEFAULT_API_KEY, *, latency: float = 0.0) -> None:
        super().__init__(api_key, latency=latency)
        self.app = self._build_app()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_delay: float | None = None,
        message: str | None = None,
    ) -> None:
        """The next ``count`` authorised calls fail; a 429 carries ``RetryInfo.retryDelay``."""
        self._fail_next(count, Failure(status, retry_delay, message))

    def _gate(
        self, request: Request, model: str, method: str, body: dict[str, Any]
    ) -> JSONResponse | None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        with self._lock:
            if not key:
                self.calls.append(Call(model, method, body, 401))
                return _error(401)
            if key not in self.api_keys:
                self.calls.append(Call(model, method, body, 400))
                return _error(
                    400,
                    "API key not valid. Please pass a valid API key.",
                    [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                        }
                    ],
                )
            failure = self._next_failure()
            if failure is not None:
                self.calls.append(Call(model, method, body, failure.status))
                details = None
                if failure.retry_after is not None:
                    details = [
                        {
                            "@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{failure.retry_after:g}s",
                        }
                    ]
                return _error(failure.status, failure.message, details)
            self.calls.append(Call(model, method, body, 200))
        return None

    def _build_app(self) -> FastAPI:
        app = fake_app("Gemini")
        fake = self

        @app.post("/v1beta/models/{target}", response_model=None)
        async def models(target: str, request: Request) -> Response:
            model, _, method = target.partition(":")
            if method not in ("generateContent", "streamGenerateContent"):
                return _error(404, f"Method {method or '(none)'} is not found for model {model}.")
            body = await json_object(request)
            if body is None:
                return _error(400, "Invalid JSON payload received.")
            if fake.latency:
                await asyncio.sleep(fake.latency)
            refused = fake._gate(request, model, method, body)
            if refused is not None:
                return refused
            contents = body.get("contents")
            if not isinstance(contents, list) or not contents:
                return _error(400, "* GenerateContentRequest.contents: contents is not specified")
            text, prompt_tokens = _reply(body)
            if method == "streamGenerateContent":
                if request.query_params.get("alt") != "sse":
                    return _error(400, "Only alt=sse streaming is offered by the sandbox.")
                return StreamingResponse(
                    _sse(model, text, prompt_tokens), media_type="text/event-stream"
                )
            return JSONResponse(_response(model, text, prompt_tokens, final=True))

        return app


def _text_of(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


def _reply(body: dict[str, Any]) -> tuple[str, int]:
    messages: list[Message] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        messages.append(Message("system", _text_of(system.get("parts"))))
    for content in body.get("contents", []):
        if isinstance(content, dict):
            role: Role = "assistant" if content.get("role") == "model" else "user"
            messages.append(Message(role, _text_of(content.get("parts"))))
    prompt_tokens = sum(estimate_tokens(m.content) for m in messages)
    subject = subject_text(messages)
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if isinstance(schema, dict):
            return json.dumps(fill_schema(_lower_types(schema), analyse(subject))), prompt_tokens
        return json.dumps(analyse(subject)), prompt_tokens
    return summarize(subject) or "I have nothing to add.", prompt_tokens


def _lower_types(schema: Any) -> Any:
    """``responseSchema`` (OpenAPI subset) spells types in capitals; JSON Schema in lower case."""
    if isinstance(schema, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def _response(model: str, text: str, prompt_tokens: int, *, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
    if final:
        candidate["finishReason"] = "STOP"
    completion = estimate_tokens(text)
    response["usageMetadata"] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt_tokens + completion,
    }
    response["responseId"] = (
        "sandbox-" + hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()[:16]
    )
    return response


async def _sse(model: str, text: str, prompt_tokens: int) -> AsyncIterator[bytes]:
    words = text.split(" ")
    size = max(1, len(words) // 4)  # a handful of chunks, as Gemini sends
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        chunk = _response(model, piece if last else piece + " ", prompt_tokens, final=last)
        yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()
