"""Trees over an SFTP session, by the rules of :mod:`sshpool.trees`: the listing sshpoold answers
``GET /channels/<alias>/dirs`` with, directories made with an exact mode, and the far side of a
direct connection's ``put``/``get(..., recursive=True)``.

Failures are asyncssh's SFTPErrors; the listing's name the directory that could not be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path

import asyncssh

from sshpool.trees import Entry, Kind

__all__ = ["SFTPRemote", "make_dir", "tree"]


@contextlib.contextmanager
def _naming(path: str) -> Iterator[None]:
    """An SFTP failure says which path of the tree it was about."""
    try:
        yield
    except asyncssh.SFTPError as exc:
        exc.reason = f"{path}: {exc.reason}"
        raise


def _kind(attrs: asyncssh.SFTPAttrs) -> Kind:
    mode = attrs.permissions or 0
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def _entry(path: str, attrs: asyncssh.SFTPAttrs, note: str = "") -> Entry:
    kind = _kind(attrs)
    if kind == "other" and not note:
        note = "not a regular file or directory"
    size = int(attrs.size or 0) if kind == "file" else 0
    return Entry(path, kind, stat.S_IMODE(attrs.permissions or 0), size, note)


async def tree(sftp: asyncssh.SFTPClient, root: str, depth: int | None = None) -> list[Entry]:
    """The tree at ``root``, its root first, links followed; ``depth`` levels below the root at
    most (None: all)."""
    top = _entry("", await sftp.stat(root))
    found = [top]
    if top.kind != "dir" or depth == 0:
        return found

    async def walk(path: str, rel: str, real: str, ancestors: frozenset[str], level: int) -> None:
        with _naming(path):
            names = await sftp.readdir(path)
        for name in sorted(names, key=lambda n: str(n.filename)):
            filename = str(name.filename)
            if filename in (".", ".."):
                continue
            child, sub = posixpath.join(path, filename), f"{rel}/{filename}" if rel else filename
            attrs, link = name.attrs, stat.S_ISLNK(name.attrs.permissions or 0)
            if link:
                try:
                    attrs = await sftp.stat(child)
                except asyncssh.SFTPError:
                    found.append(Entry(sub, "other", 0, 0, "a broken link"))
                    continue
            entry = _entry(sub, attrs)
            if entry.kind == "dir":
                child_real = await sftp.realpath(child) if link else posixpath.join(real, filename)
                if child_real in ancestors:
                    found.append(Entry(sub, "other", entry.mode, 0, "a link back into the tree"))
                    continue
                found.append(entry)
                if depth is None or level < depth:
                    await walk(child, sub, child_real, ancestors | {child_real}, level + 1)
            else:
                found.append(entry)

    real = await sftp.realpath(root)
    await walk(root, "", real, frozenset({real}), 1)
    return found


async def make_dir(sftp: asyncssh.SFTPClient, path: str, mode: int | None = None) -> bool:
    """Make ``path`` a directory, with exactly ``mode`` when one is given (the server's umask
    does not apply), unless it is one already; True when it was made."""
    if await sftp.isdir(path):
        return False
    try:
        await sftp.mkdir(path, asyncssh.SFTPAttrs(permissions=mode) if mode is not None else asyncssh.SFTPAttrs())
    except asyncssh.SFTPFailure:
        if await sftp.isdir(path):  # made meanwhile, or a server that says "failure" for "exists"
            return False
        raise
    if mode is not None:
        await sftp.chmod(path, mode)
    return True


class SFTPRemote:
    """The far side of a tree copy on one SFTP session (:class:`sshpool.trees.Remote`)."""

    def __init__(self, sftp: asyncssh.SFTPClient) -> None:
        self.sftp = sftp

    async def entries(self, path: str, depth: int | None = None) -> list[Entry]:
        try:
            return await tree(self.sftp, path, depth)
        except asyncssh.SFTPNoSuchFile as exc:
            raise FileNotFoundError(2, f"no such file or directory: {path} ({exc.reason})") from None

    async def make_dir(self, path: str, mode: int) -> bool:
        with _naming(path):
            return await make_dir(self.sftp, path, mode)

    async def set_mode(self, path: str, mode: int) -> None:
        with _naming(path):
            await self.sftp.chmod(path, mode)

    async def put(self, local: Path, path: str, mode: int) -> int:
        with _naming(path):
            await self.sftp.put(str(local), path, follow_symlinks=True)
            with contextlib.suppress(asyncssh.SFTPOpUnsupported):
                await self.sftp.chmod(path, mode)
            return int((await self.sftp.stat(path)).size or 0)

    async def get(self, path: str, local: Path) -> int:
        with _naming(path):
            await self.sftp.get(path, str(local), follow_symlinks=True)
        return await asyncio.to_thread(os.path.getsize, local)
