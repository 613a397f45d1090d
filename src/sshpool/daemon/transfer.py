"""File transfer over REST: ``PUT`` and ``GET /channels/<alias>/files?path=...``, streamed to and
from an SFTP session on the channel.

Why streamed: a file may be far larger than ``--body-limit``, so the guard lets an upload's body
through unread and it is counted here against ``--file-limit`` as it arrives. An upload goes to a
temporary name next to the target and is renamed into place only when complete, so a refused or
broken upload never leaves half a file behind. A download answers with the file's size as its
Content-Length and sends it in pieces; the SFTP session lives exactly as long as the answer.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import secrets
import stat
from typing import Any

import asyncssh
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from sshpool.core.channel import Channel
from sshpool.daemon.answers import problem, wants_json
from sshpool.errors import RequestError

__all__ = ["CHUNK", "FileResponse", "download", "file_problem", "mode_param", "remote_path", "upload"]

CHUNK = 256 * 1024
_MODE = re.compile(r"^[0-7]{1,4}$")


def remote_path(value: str | None) -> str:
    """The ``path`` query parameter as an SFTP path: relative paths start at the login directory,
    and a leading ``~/`` means the same (SFTP has no ``~``)."""
    if value is None or not value.strip():
        raise RequestError("query parameter 'path' is required: /channels/<alias>/files?path=<remote file>")
    if "\x00" in value:
        raise RequestError("query parameter 'path' contains a NUL character")
    if value == "~":
        return "."
    return value[2:] if value.startswith("~/") else value


def mode_param(value: str | None) -> int | None:
    """The ``mode`` query parameter: permission bits in octal (``644``, ``0755``), or None."""
    if value is None:
        return None
    if not _MODE.match(value):
        raise RequestError(f"query parameter 'mode' must be permission bits in octal, e.g. 644 or 0755; got {value!r}")
    return int(value, 8)


def file_problem(exc: Exception, what: str, path: str, *, json_body: bool) -> Response:
    reason = getattr(exc, "reason", "") or str(exc) or type(exc).__name__
    detail = f"cannot {what} {path!r}: {reason}"
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return problem(404, "file_not_found", detail, json_body=json_body)
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return problem(403, "permission_denied", detail, json_body=json_body)
    return problem(400, "file_error", detail, json_body=json_body)


def _temporary_name(path: str) -> str:
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}.sshpool-{secrets.token_hex(4)}.part")


async def upload(channel: Channel, request: Request, limit: int, client: str) -> tuple[Response, dict[str, Any]]:
    """Stream the request body into ``path`` on the channel's host; returns the answer and what
    the audit log should say (never the content)."""
    as_json = wants_json(request.scope["headers"])
    path = remote_path(request.query_params.get("path"))
    mode = mode_param(request.query_params.get("mode"))
    if path.endswith("/") or path in (".", ".."):
        raise RequestError(f"path {path!r} names a directory; give the file's name")
    size = 0
    async with channel.sftp(client=client) as sftp:
        with contextlib.suppress(asyncssh.SFTPError):  # write through a symlink, as `cp` would
            if await sftp.islink(path):
                path = await sftp.realpath(path)
        temp = _temporary_name(path)
        try:
            handle = await sftp.open(temp, "wb")
        except (asyncssh.SFTPError, OSError) as exc:
            return file_problem(exc, "write", path, json_body=as_json), {"path": path, "error": "file_error"}
        done = False
        try:
            try:
                async with handle:
                    async for piece in request.stream():
                        size += len(piece)
                        if size > limit:
                            refused = problem(
                                413,
                                "too_large",
                                f"file larger than {limit} bytes (--file-limit); nothing was written to {path!r}",
                                json_body=as_json,
                            )
                            return refused, {"path": path, "error": "too_large"}
                        if piece:
                            await handle.write(piece)
                with contextlib.suppress(asyncssh.SFTPError):  # the mode asked for, else that of a file we replace
                    await sftp.chmod(
                        temp, mode if mode is not None else stat.S_IMODE((await sftp.stat(path)).permissions or 0o644)
                    )
                try:
                    await sftp.posix_rename(temp, path)
                except asyncssh.SFTPOpUnsupported:  # servers without the OpenSSH extension
                    with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                        await sftp.remove(path)
                    await sftp.rename(temp, path)
            except (asyncssh.SFTPError, OSError) as exc:
                return file_problem(exc, "write", path, json_body=as_json), {"path": path, "error": "file_error"}
            except ClientDisconnect:
                return Response(status_code=499), {"path": path, "error": "client_disconnected"}
            done = True
        finally:
            if not done:
                with contextlib.suppress(asyncssh.SFTPError, OSError):
                    await sftp.remove(temp)
    return JSONResponse({"path": path, "size": size}), {"path": path, "size": size}


async def download(channel: Channel, request: Request, limit: int, client: str) -> tuple[Response, dict[str, Any]]:
    """Open ``path`` and answer with a streaming response that owns the SFTP session; errors
    found before the first byte (no such file, permission, a directory) are plain answers."""
    as_json = wants_json(request.scope["headers"])
    path = remote_path(request.query_params.get("path"))
    session = contextlib.AsyncExitStack()
    sftp = await session.enter_async_context(channel.sftp(client=client))
    try:
        handle = await sftp.open(path, "rb")
        session.push_async_callback(handle.close)
        attrs = await handle.stat()
        if attrs.permissions is not None and stat.S_ISDIR(attrs.permissions):
            await session.aclose()
            detail = f"{path!r} is a directory; give a file, or copy the tree (GET /channels/<alias>/dirs lists it)"
            return problem(400, "file_error", detail, json_body=as_json), {"path": path, "error": "file_error"}
    except (asyncssh.SFTPError, OSError) as exc:
        await session.aclose()
        return file_problem(exc, "read", path, json_body=as_json), {"path": path, "error": "file_error"}
    except BaseException:
        await session.aclose()
        raise
    regular = attrs.permissions is not None and stat.S_ISREG(attrs.permissions)
    size = int(attrs.size) if regular and attrs.size else None
    answer = FileResponse(handle, session, size=size, limit=limit)
    return answer, {"path": path, "size": size}


class FileResponse(Response):
    """Sends an open SFTP file, then closes the file and its session. A regular file goes with
    its size as Content-Length, and exactly that many bytes; a file whose size is not known
    ahead (``/proc`` files say 0) goes chunked until its end, at most ``limit`` bytes. A
    transfer that cannot finish is broken off, so the client never takes a short body for all."""

    media_type = "application/octet-stream"

    def __init__(
        self, handle: asyncssh.SFTPClientFile, session: contextlib.AsyncExitStack, *, size: int | None, limit: int
    ) -> None:
        super().__init__(content=None, status_code=200, media_type=self.media_type)
        self.handle = handle
        self.session = session
        self.size = size
        self.limit = limit
        if size is None:
            self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        else:
            self.headers["content-length"] = str(size)

    async def _read(self, n: int) -> bytes:
        piece: bytes | str = await self.handle.read(n)
        return piece.encode() if isinstance(piece, str) else piece  # opened without an encoding: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if self.size is not None:
                left = self.size
                while left > 0:
                    data = await self._read(min(CHUNK, left))
                    if not data:
                        raise OSError(f"the file shrank while it was sent ({left} bytes short)")
                    left -= len(data)
                    await send({"type": "http.response.body", "body": data, "more_body": left > 0})
                return
            sent = 0
            while data := await self._read(CHUNK):
                sent += len(data)
                if sent > self.limit:
                    raise OSError(f"the file is larger than {self.limit} bytes (--file-limit)")
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.session.aclose()
