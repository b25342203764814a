"""`shopmind serve-model`: an OpenAI-compatible HTTP server over the in-process backend.

Why not ``transformers serve``: in transformers 5.24 it ignores ``tool_choice`` (listed as an
unsupported field), parses tool calls only for models that ship a response template, has no
grammar-constrained decoding, and decodes through ``generate()`` without our prefix cache.
This module keeps only the protocol: validation in ``protocol.py``, generation in the backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from assistant.backends.local import BackendError, LocalBackend
from assistant.model_server.protocol import (
    ChatCompletionRequest,
    completion_id,
    envelope,
    error_body,
)


def create_app(backend: LocalBackend, model_name: str | None = None) -> FastAPI:
    name = model_name or backend.name
    app = FastAPI(title="shopmind model server")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}"
                             for e in err.errors())
        return JSONResponse(error_body(f"invalid request: {problems}"), status_code=400)

    @app.exception_handler(BackendError)
    async def _backend(_: Request, err: BackendError) -> JSONResponse:
        return JSONResponse(error_body(str(err)), status_code=400)

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "shopmind"}]}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": name}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest):
        request = body.to_backend()
        if body.model and Path(body.model).name != name:  # the folder path is accepted too
            raise BackendError(f"model {body.model!r} is not served here; use {name!r}")
        if body.stream:
            stream = backend.stream(request)
            first = await run_in_threadpool(next, stream)  # surfaces request errors as a 400
            return StreamingResponse(_sse(first, stream, name), media_type="text/event-stream")
        result = await run_in_threadpool(backend.chat, request)
        choice = {"index": 0, "message": result.message(), "finish_reason": result.finish_reason,
                  "logprobs": None}
        usage = {"prompt_tokens": result.prompt_tokens,
                 "completion_tokens": result.completion_tokens,
                 "total_tokens": result.prompt_tokens + result.completion_tokens}
        return envelope("chat.completion", completion_id(), name, [choice], usage=usage)

    return app


def _sse(first, rest: Iterator, name: str) -> Iterator[str]:
    cid = completion_id()

    def event(delta: dict, finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return f"data: {json.dumps(envelope('chat.completion.chunk', cid, name, [choice]))}\n\n"

    yield event({"role": "assistant", "content": ""})
    for delta in _chain(first, rest):
        if delta.content:
            yield event({"content": delta.content})
        if delta.tool_calls:
            calls = [{"index": i, **call} for i, call in enumerate(delta.tool_calls)]
            yield event({"tool_calls": calls})
        if delta.finish_reason:
            yield event({}, delta.finish_reason)
    yield "data: [DONE]\n\n"


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest
