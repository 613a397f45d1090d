"""Directory trees to and from a channel's host through the REST API, one file at a time: the
far side of :mod:`sshpool.trees` is ``GET``/``PUT /channels/<alias>/dirs`` (list the tree, make
a directory), ``PATCH /channels/<alias>/files`` (a mode) and the streamed ``/files`` transfers.
"""

from __future__ import annotations

import errno
from pathlib import Path

import httpx

from sshpool.client.errors import ErrorMap
from sshpool.client.files import download, upload
from sshpool.client.wire import TRANSFER_TIMEOUT
from sshpool.errors import SSHPoolError
from sshpool.trees import Entry

__all__ = ["RestRemote"]


class RestRemote:
    """One channel's host as :class:`sshpool.trees.Remote`, at ``base`` (``/channels/<alias>``)."""

    def __init__(self, http: httpx.AsyncClient, errors: ErrorMap, base: str, alias: str) -> None:
        self.http = http
        self.errors = errors
        self.base = base
        self.alias = alias

    async def _call(self, method: str, suffix: str, params: dict[str, str]) -> httpx.Response:
        with self.errors.mapping(0):
            resp = await self.http.request(method, self.base + suffix, params=params, timeout=TRANSFER_TIMEOUT)
        await self.errors.check(resp, self.alias)
        return resp

    async def entries(self, path: str, depth: int | None = None) -> list[Entry]:
        params = {"path": path} if depth is None else {"path": path, "depth": str(depth)}
        doc = (await self._call("GET", "/dirs", params)).json()
        return [Entry.from_dict(item) for item in doc["entries"]]

    async def make_dir(self, path: str, mode: int) -> bool:
        return bool((await self._call("PUT", "/dirs", {"path": path, "mode": f"{mode:o}"})).json()["created"])

    async def set_mode(self, path: str, mode: int) -> None:
        await self._call("PATCH", "/files", {"path": path, "mode": f"{mode:o}"})

    async def put(self, local: Path, path: str, mode: int) -> int:
        return await upload(self.http, self.errors, self.base + "/files", self.alias, local, path, mode)

    async def get(self, path: str, local: Path) -> int:
        return await download(self.http, self.errors, self.base + "/files", self.alias, path, local)

    async def is_directory_error(self, path: str, exc: OSError) -> OSError:
        """``exc`` (a download refused), or IsADirectoryError when ``path`` is a directory."""
        try:
            top = (await self.entries(path, depth=0))[0]
        except (OSError, SSHPoolError):
            return exc
        if top.kind == "dir":
            return IsADirectoryError(errno.EISDIR, f"cannot download {path}: it is a directory", path)
        return exc
