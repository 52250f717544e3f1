"""An OpenRouter fake, shaped after its OpenAI-compatible API (openrouter.ai/docs/api-reference).

``POST /chat/completions`` answers in the chat-completions shape (``choices[].message``, ``usage``)
or, with ``stream: true``, as server-sent ``chat.completion.chunk`` events ending in
``data: [DONE]``. With ``response_format: {"type": "json_schema"}`` the reply is JSON valid for the
given schema, filled deterministically from the prompt by Oja's offline heuristics (summary,
document type from the schema's own enum, regex metadata). ``POST /embeddings`` returns vectors
hashed from each text (fixed dimension; ``encoding_format: "base64"`` packs float32).

Authentication is ``Authorization: Bearer <key>``; errors use OpenRouter's body
``{"error": {"message", "code"}}``. Knobs: :meth:`OpenRouterFake.fail_next` (429 with Retry-After,
500, ... for the next N calls), :meth:`OpenRouterFake.script_replies` (verbatim contents for the
next chat replies), ``latency``; every call is appended to :attr:`OpenRouterFake.calls`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import struct
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from oja.core.ai.base import Message
from oja.core.ai.heuristics import summarize
from oja.core.ai.local import analyse, fill_schema, hashed_vector, subject_text
from oja.core.ai.prompting import estimate_tokens
from oja.sandbox.base import Failure, ScriptedFailures, bearer_token, fake_app

DEFAULT_API_KEY = "sk-or-v1-sandbox"
DEFAULT_EMBEDDING_DIMENSIONS = 64
_MESSAGES = {
    400: "Invalid request",
    401: "No auth credentials found",
    402: "Insufficient credits",
    429: "Rate limit exceeded: free-models-per-min",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "No available model provider that meets your routing requirements",
}


@dataclass
class Call:
    path: str
    body: dict[str, Any]
    status: int
    authorized: bool = field(default=True)


def _error(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    text = message or _MESSAGES.get(status, "Error")
    return JSONResponse({"error": {"message": text, "code": status}}, status, headers=headers)


_EXCERPT = re.compile(r"^\[(\d+)\] \(from [^)]*\)\n(.*?)(?=^\[\d+\] \(from |\Z)", re.M | re.S)
_QUESTION = re.compile(r"^Question: (.+)$", re.M)
_WORD = re.compile(r"[\w-]+")
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")


def _cited_answer(messages: list[Message]) -> str | None:
    """What a model following a retrieval prompt does: quote the excerpt sentence that shares the
    most words with the question and cite its number (``"…" [n]``); None for other prompts."""
    text = "\n".join(m.content for m in messages if m.role == "user")
    question = _QUESTION.search(text)
    excerpts = _EXCERPT.findall(text)
    if question is None or not excerpts:
        return None
    wanted = {w.casefold() for w in _WORD.findall(question.group(1)) if len(w) > 2}
    best: tuple[int, str, str] | None = None
    for number, body in excerpts:
        for raw in _SENTENCE.findall(" ".join(body.split())):
            sentence = raw.strip()
            overlap = len(wanted & {w.casefold() for w in _WORD.findall(sentence)})
            if sentence and (best is None or overlap > best[0]):
                best = (overlap, number, sentence)
    if best is None or best[0] == 0:
        return "The excerpts do not answer this question."
    _, number, sentence = best
    return f'"{sentence}" [{number}]'


class OpenRouterFake(ScriptedFailures[Call]):
    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        latency: float = 0.0,
        embedding_dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS,
    ) -> None:
        super().__init__(api_key, latency=latency)
        self.embedding_dimensions = embedding_dimensions
        self._scripted: deque[str] = deque()
        self.app = self._build_app()

    # -- knobs -----------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """The next ``count`` authorised calls answer ``status`` (with ``Retry-After`` if given)."""
        self._fail_next(count, Failure(status, retry_after, message))

    def script_replies(self, *contents: str) -> None:
        """The next chat completions reply with these contents verbatim, in order."""
        with self._lock:
            self._scripted.extend(contents)

    def _reset_more(self) -> None:
        self._scripted.clear()

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    # -- behaviour ---------------------------------------------------------------------------

    def _gate(self, request: Request, path: str, body: dict[str, Any]) -> JSONResponse | None:
        key = bearer_token(request)
        with self._lock:
            if key not in self.api_keys:
                self.calls.append(Call(path, body, 401, authorized=False))
                return _error(401, "No auth credentials found" if not key else "User not found.")
            failure = self._next_failure()
            if failure is not None:
                self.calls.append(Call(path, body, failure.status))
                headers = None
                if failure.retry_after is not None:
                    headers = {"Retry-After": f"{failure.retry_after:g}"}
                return _error(failure.status, failure.message, headers)
            self.calls.append(Call(path, body, 200))
        return None

    async def _admit(self, request: Request, path: str) -> dict[str, Any] | Response:
        """The call's JSON body once it is let through (after ``latency``), else the refusal."""
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if self.latency:
            await asyncio.sleep(self.latency)
        refused = self._gate(request, path, body)
        return body if refused is None else refused

    def _reply(self, body: dict[str, Any]) -> str:
        with self._lock:
            if self._scripted:
                return self._scripted.popleft()
        messages = [
            Message(role=m.get("role", "user"), content=_content_text(m.get("content")))
            for m in body.get("messages", [])
            if m.get("role") in ("system", "user", "assistant")
        ]
        subject = subject_text(messages)
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema", {})
            return json.dumps(fill_schema(schema, analyse(subject)), ensure_ascii=False)
        if response_format.get("type") == "json_object":
            return json.dumps(analyse(subject), ensure_ascii=False)
        cited = _cited_answer(messages)
        if cited is not None:
            return cited
        return summarize(subject) or "I have nothing to summarise."

    def _build_app(self) -> FastAPI:
        app = fake_app("OpenRouter")
        fake = self

        @app.post("/chat/completions", response_model=None)
        async def chat_completions(request: Request) -> Response:
            body = await fake._admit(request, "/chat/completions")
            if isinstance(body, Response):
                return body
            if not body.get("model") or not isinstance(body.get("messages"), list):
                return _error(400, "`model` and `messages` are required")
            content = fake._reply(body)
            model = str(body["model"])
            prompt_tokens = sum(
                estimate_tokens(_content_text(m.get("content"))) for m in body["messages"]
            )
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": estimate_tokens(content),
                "total_tokens": prompt_tokens + estimate_tokens(content),
            }
            completion_id = (
                "gen-" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]
            )
            if body.get("stream"):
                return StreamingResponse(
                    _sse_chunks(completion_id, model, content, usage),
                    media_type="text/event-stream",
                )
            return JSONResponse(
                {
                    "id": completion_id,
                    "provider": "Sandbox",
                    "model": model,
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "choices": [
                        {
                            "index": 0,
                            "logprobs": None,
                            "finish_reason": "stop",
                            "native_finish_reason": "stop",
                            "message": {"role": "assistant", "content": content, "refusal": None},
                        }
                    ],
                    "usage": usage,
                }
            )

        @app.post("/embeddings", response_model=None)
        async def embeddings(request: Request) -> Response:
            body = await fake._admit(request, "/embeddings")
            if isinstance(body, Response):
                return body
            texts = body.get("input")
            if isinstance(texts, str):
                texts = [texts]
            if (
                not body.get("model")
                or not isinstance(texts, list)
                or not all(isinstance(t, str) for t in texts)
            ):
                return _error(400, "`model` and a string or list of strings `input` are required")
            data = []
            for index, text in enumerate(texts):
                vector = hashed_vector(text, fake.embedding_dimensions)
                embedding: Any = vector
                if body.get("encoding_format") == "base64":
                    embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                data.append({"object": "embedding", "index": index, "embedding": embedding})
            tokens = sum(estimate_tokens(t) for t in texts)
            return JSONResponse(
                {
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                }
            )

        return app


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: keep the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


async def _json_body(request: Request) -> dict[str, Any] | Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _error(400, "The request body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object")
    return body


async def _sse_chunks(
    completion_id: str, model: str, content: str, usage: dict[str, int]
) -> AsyncIterator[bytes]:
    def event(
        delta: dict[str, Any], finish: str | None, extra: dict[str, Any] | None = None
    ) -> bytes:
        chunk = {
            "id": completion_id,
            "provider": "Sandbox",
            "model": model,
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **(extra or {}),
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

    yield b": OPENROUTER PROCESSING\n\n"  # OpenRouter's keep-alive comment; clients ignore it
    yield event({"role": "assistant", "content": ""}, None)
    words = content.split(" ")
    for index, word in enumerate(words):
        yield event({"content": word if index == len(words) - 1 else word + " "}, None)
    yield event({}, "stop", {"usage": usage})
    yield b"data: [DONE]\n\n"
