"""The hot routes, POST /channels/<alias> (run one command) and POST /run (fan-out), reached from
the guard without FastAPI's dependency solving, Starlette's middleware wrappers and its router.

Same endpoints (:class:`~sshpool.daemon.runs.RunEndpoints`), same guard (request id, Host check,
token, body limit, the request counter), same error table: a refusal (:class:`SSHPoolError`) is
answered by :func:`~sshpool.daemon.answers.error_answer` as the app's handler answers it, and an
unexpected exception is the plain ``500 Internal Server Error`` Starlette sends, then raised for
the server to log. Every other request, and these paths under a ``root_path``, go to the FastAPI
app, whose routes for these two endpoints stay in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sshpool.daemon.answers import error_answer, wants_json
from sshpool.daemon.imports import IMPORT_PATH
from sshpool.daemon.runs import RunEndpoints
from sshpool.errors import SSHPoolError

__all__ = ["HotPath", "hot_alias"]

_CHANNELS = "/channels/"


def hot_alias(scope: Scope) -> str | None:
    """The alias of a ``POST /channels/<alias>``, ``""`` for ``POST /run``, None for any other
    request (what Starlette's ``{alias}`` matches: one non-empty path segment, percent-decoded)."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
        return None
    path: str = scope["path"]
    if path == "/run":
        return ""
    if path == IMPORT_PATH:  # POST /channels/import is an import, not a command on a channel "import"
        return None
    if path.startswith(_CHANNELS) and len(path) > len(_CHANNELS) and "/" not in path[len(_CHANNELS) :]:
        return path[len(_CHANNELS) :]
    return None


class HotPath:
    """Dispatch: the hot routes to ``hot`` (the guard around :meth:`handle`), the rest to ``app``."""

    def __init__(self, app: ASGIApp, runs: RunEndpoints) -> None:
        self.app = app
        self.runs = runs
        self.hot: ASGIApp = self.handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if hot_alias(scope) is None:
            await self.app(scope, receive, send)
        else:
            await self.hot(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One hot request, past the guard."""
        alias = hot_alias(scope)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            request = Request(scope, receive)
            try:
                if alias:
                    scope["path_params"] = {"alias": alias}
                    response: Response = await self.runs.run_command(request, alias)
                else:
                    response = await self.runs.fan_out(request)
            except SSHPoolError as exc:
                response = error_answer(exc, json_body=wants_json(scope["headers"]))
            await response(scope, receive, tracked)
        except Exception:
            if not started:
                await _server_error(scope, receive, send)
            raise


async def _server_error(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
