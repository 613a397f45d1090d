"""The answers of the REST API: the classic plain text, or RFC 9457 problem+json when the client
asks for JSON, and JSON results encoded off the event loop when they are big."""

from __future__ import annotations

import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from sshpool.errors import ChannelUnavailableError, HostKeyError, SSHPoolError

__all__ = ["PLAIN_BODIES", "error_answer", "json_answer", "problem", "wants_json"]

#: The seed's plain bodies, byte for byte (SPEC.md: "Keep the plain text bodies OK, NOT FOUND, BAD
#: REQUEST" for seed clients, which compare them): no newline is added to these, and their detail
#: is in the problem+json answer. Every other plain error is its detail, ending its line.
PLAIN_BODIES = {200: "OK", 400: "BAD REQUEST", 404: "NOT FOUND"}
#: Above this much output a result is encoded off the event loop.
_ENCODE_IN_THREAD = 1 << 20


def wants_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """problem+json only when Accept names JSON explicitly; ``*/*`` keeps the classic plain bodies."""
    for name, value in headers:
        if name.lower() == b"accept":
            types = {part.split(";")[0].strip().lower() for part in value.decode("latin-1").split(",")}
            if types & {"application/json", "application/problem+json"}:
                return True
    return False


async def json_answer(content: Any, *, output_bytes: int = 0) -> Response:
    """The compact JSON that JSONResponse writes, encoded by pydantic-core (FastAPI's own encoder,
    ~3x json.dumps on big strings). A result with megabytes of output is encoded in a worker
    thread, so other requests never wait for it: 100 MB took the event loop 0.5 s with json.dumps."""
    if output_bytes > _ENCODE_IN_THREAD:
        body = await run_in_threadpool(to_json, content)
    else:
        body = to_json(content)
    return Response(body, media_type="application/json")


def problem(status: int, code: str, detail: str, *, json_body: bool, alias: str | None = None) -> Response:
    """An error answer: the classic plain text, or RFC 9457 problem+json with our ``code``."""
    headers = {"X-SSHPool-Error": code}
    if status == 503:
        headers["Retry-After"] = "1"
    if json_body:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": code,
        }
        if alias is not None:
            body["alias"] = alias
        return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")
    text = PLAIN_BODIES.get(status) or detail.rstrip("\n") + "\n"
    return PlainTextResponse(text, status_code=status, headers=headers)


def error_answer(exc: SSHPoolError, *, json_body: bool) -> Response:
    resp = problem(exc.http_status, exc.code, exc.message, json_body=json_body, alias=exc.alias)
    if isinstance(exc, ChannelUnavailableError) and exc.code in ("auth_failed", "host_key_unknown", "host_key_changed"):
        resp.headers["Retry-After"] = "30"
    fingerprint = exc.fingerprint if isinstance(exc, HostKeyError) else None
    if json_body and fingerprint:
        body = json.loads(bytes(resp.body))
        body["fingerprint"] = fingerprint
        kept = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
        resp = JSONResponse(body, status_code=resp.status_code, headers=kept, media_type=resp.media_type)
    return resp
