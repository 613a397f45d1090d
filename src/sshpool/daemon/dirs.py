"""Directory trees over REST, for a client that copies them one file at a time (``sshpoolctl put
-r``, ``conn.put(..., recursive=True)`` through the daemon): ``GET /channels/<alias>/dirs`` lists
the tree at a path, ``PUT /channels/<alias>/dirs`` makes a directory, ``PATCH
/channels/<alias>/files`` sets a path's mode. Files themselves go through ``/files``
(:mod:`sshpool.daemon.transfer`); the listing's rules are :mod:`sshpool.trees`'s.
"""

from __future__ import annotations

from typing import Any

import asyncssh
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from sshpool.core.channel import Channel
from sshpool.core.sftptree import make_dir, tree
from sshpool.daemon.answers import wants_json
from sshpool.daemon.transfer import file_problem, mode_param, remote_path
from sshpool.errors import RequestError

__all__ = ["change_mode", "list_tree", "make_directory"]

Answer = tuple[Response, dict[str, Any]]


def _depth(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) > 1_000_000:
        raise RequestError(f"query parameter 'depth' must be a whole number of levels, 0 or more; got {value!r}")
    return int(value)


async def list_tree(channel: Channel, request: Request, client: str) -> Answer:
    """The tree at ``path``: its root first, every directory before what it holds; links
    followed, a link back into the tree and anything not a file or directory listed as
    ``other`` with a ``note``."""
    as_json = wants_json(request.scope["headers"])
    path = remote_path(request.query_params.get("path"))
    depth = _depth(request.query_params.get("depth"))
    async with channel.sftp(client=client) as sftp:
        try:
            entries = await tree(sftp, path, depth)
        except (asyncssh.SFTPError, OSError) as exc:
            return file_problem(exc, "list", path, json_body=as_json), {"path": path, "error": "file_error"}
    doc = {"path": path, "entries": [e.to_dict() for e in entries]}
    return JSONResponse(doc), {"path": path, "entries": len(entries)}


async def make_directory(channel: Channel, request: Request, client: str) -> Answer:
    """Make ``path`` a directory (its parent must exist) with ``mode``, unless it is one."""
    as_json = wants_json(request.scope["headers"])
    path = remote_path(request.query_params.get("path"))
    mode = mode_param(request.query_params.get("mode"))
    async with channel.sftp(client=client) as sftp:
        try:
            created = await make_dir(sftp, path, mode)
        except (asyncssh.SFTPError, OSError) as exc:
            return file_problem(exc, "make directory", path, json_body=as_json), {"path": path, "error": "file_error"}
    return JSONResponse({"path": path, "created": created}), {"path": path, "created": created}


async def change_mode(channel: Channel, request: Request, client: str) -> Answer:
    """Give ``path`` (a file or a directory) the permission bits ``mode``."""
    as_json = wants_json(request.scope["headers"])
    path = remote_path(request.query_params.get("path"))
    mode = mode_param(request.query_params.get("mode"))
    if mode is None:
        raise RequestError("query parameter 'mode' is required: permission bits in octal, e.g. 644 or 0755")
    async with channel.sftp(client=client) as sftp:
        try:
            await sftp.chmod(path, mode)
        except (asyncssh.SFTPError, OSError) as exc:
            return file_problem(exc, "change the mode of", path, json_body=as_json), {
                "path": path,
                "error": "file_error",
            }
    return JSONResponse({"path": path, "mode": mode}), {"path": path, "mode": oct(mode)}
