"""Directory trees copied as ``scp -r`` copies them, over any far side that can list a tree, make
a directory and move one file: one set of rules whether that side is SFTP (a direct connection)
or sshpoold's REST API (the client moving one file at a time).

The rules:

- a directory's files and subdirectories, empty ones too, are copied with their permission bits
  (not their times or owners: ``scp -r`` without ``-p``); a file is copied as a file;
- symbolic links are followed, as ``scp -r`` follows them; a link that leads back into a
  directory being copied is skipped, not followed forever, and so are sockets, devices, FIFOs
  and broken links, each named in a :class:`Step` with ``size=None``;
- the target: an existing directory receives the copy under the source's name; any other path
  becomes the copy (its parent must exist). Existing directories are merged into and keep their
  mode; a directory made here is made writable by its owner first and given its own mode last,
  so that a read-only source directory still receives its files;
- the source is listed whole before anything is copied (an unreadable directory fails first);
  a failure while copying stops the copy there, with what was copied left in place.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = ["Entry", "Progress", "Remote", "Step", "get_tree", "local_entries", "put_tree"]

Kind = Literal["file", "dir", "other"]


@dataclass(frozen=True)
class Entry:
    """One thing in a tree: ``path`` relative to the tree's root (``""`` is the root itself,
    ``/`` separates), ``mode`` its permission bits; ``note`` says why an ``other`` is skipped."""

    path: str
    kind: Kind
    mode: int = 0o644
    size: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"path": self.path, "type": self.kind, "mode": self.mode, "size": self.size}
        if self.note:
            doc["note"] = self.note
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Entry:
        kind = doc.get("type")
        return cls(
            path=str(doc.get("path") or ""),
            kind=kind if kind in ("file", "dir") else "other",
            mode=int(doc.get("mode") or 0) & 0o7777,
            size=int(doc.get("size") or 0),
            note=str(doc.get("note") or ("" if kind in ("file", "dir") else "not a regular file or directory")),
        )


@dataclass(frozen=True)
class Step:
    """What one entry of a copy did: ``size`` bytes from ``source`` to ``target``, or, with
    ``size=None``, skipped for ``note``."""

    source: str
    target: str
    size: int | None
    note: str = field(default="")


Progress = Callable[[Step], None]


class Remote(Protocol):
    """The far side of a copy. Its failures are OSErrors (FileNotFoundError, PermissionError...)."""

    async def entries(self, path: str, depth: int | None = None) -> list[Entry]:
        """The tree at ``path``, its root first and every directory before what it holds;
        ``depth=0`` is the root alone. FileNotFoundError when there is nothing there."""
        ...

    async def make_dir(self, path: str, mode: int) -> bool:
        """Make directory ``path`` (its parent exists) with permission bits ``mode``, unless it
        is one already (then it is left as it is). True when it was made."""
        ...

    async def set_mode(self, path: str, mode: int) -> None:
        """Give ``path`` permission bits ``mode``."""
        ...

    async def put(self, local: Path, path: str, mode: int) -> int:
        """Copy the local file to ``path``, with permission bits ``mode``; the bytes sent."""
        ...

    async def get(self, path: str, local: Path) -> int:
        """Copy the remote file ``path`` to ``local``; the bytes received."""
        ...


def _mode(st: os.stat_result) -> int:
    return stat.S_IMODE(st.st_mode)


def local_entries(root: Path) -> list[Entry]:
    """The local tree at ``root`` by the rules above (FileNotFoundError when there is none)."""
    st = os.stat(root)
    if not stat.S_ISDIR(st.st_mode):
        kind: Kind = "file" if stat.S_ISREG(st.st_mode) else "other"
        return [Entry("", kind, _mode(st), st.st_size, "" if kind == "file" else "not a regular file or directory")]
    found = [Entry("", "dir", _mode(st))]

    def walk(directory: Path, rel: str, ancestors: frozenset[str]) -> None:
        for name in sorted(os.listdir(directory)):
            path, sub = directory / name, f"{rel}/{name}" if rel else name
            try:
                st = os.stat(path)
            except OSError:
                found.append(Entry(sub, "other", 0, 0, "a broken link"))
                continue
            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(path)
                if real in ancestors:
                    found.append(Entry(sub, "other", _mode(st), 0, "a link back into the tree"))
                    continue
                found.append(Entry(sub, "dir", _mode(st)))
                walk(path, sub, ancestors | {real})
            elif stat.S_ISREG(st.st_mode):
                found.append(Entry(sub, "file", _mode(st), st.st_size))
            else:
                found.append(Entry(sub, "other", _mode(st), 0, "not a regular file or directory"))

    walk(root, "", frozenset({os.path.realpath(root)}))
    return found


def _join(base: str, rel: str) -> str:
    if not rel:
        return base
    return rel if base in ("", ".") else posixpath.join(base, rel)


def _named(name: str) -> bool:
    """A name the copy can take as its own (``.``, ``..`` and ``/`` cannot: their contents merge)."""
    return name not in ("", ".", "..")


async def put_tree(remote: Remote, local: Path, target: str, progress: Progress | None = None) -> int:
    """Copy the local tree ``local`` to ``target``; the bytes sent."""
    found = await asyncio.to_thread(local_entries, local)
    top = await _top(remote, target)
    if top is not None and top.kind == "dir" and _named(local.name):
        target = _join(target, local.name)
    total = 0
    made: list[tuple[str, int]] = []
    for entry in found:
        here, there = local / entry.path if entry.path else local, _join(target, entry.path)
        if entry.kind == "dir":
            if await remote.make_dir(there, entry.mode | 0o700):
                made.append((there, entry.mode))
        elif entry.kind == "file":
            size = await remote.put(here, there, entry.mode)
            total += size
            _tell(progress, Step(str(here), there, size))
        else:
            _tell(progress, Step(str(here), there, None, entry.note))
    for there, mode in reversed(made):
        if mode & 0o700 != 0o700:
            await remote.set_mode(there, mode)
    return total


async def get_tree(remote: Remote, source: str, local: Path, progress: Progress | None = None) -> int:
    """Copy the remote tree ``source`` to ``local``; the bytes received."""
    found = await remote.entries(source)
    name = posixpath.basename(posixpath.normpath(source))
    if await asyncio.to_thread(local.is_dir) and (found[0].kind != "dir" or _named(name)):
        local = local / name
    total = 0
    made: list[tuple[Path, int]] = []
    for entry in found:
        here, there = local / entry.path if entry.path else local, _join(source, entry.path)
        if entry.kind == "dir":
            if not here.is_dir():
                here.mkdir(mode=0o700)
                made.append((here, entry.mode))
        elif entry.kind == "file":
            size = await remote.get(there, here)
            os.chmod(here, entry.mode)
            total += size
            _tell(progress, Step(there, str(here), size))
        else:
            _tell(progress, Step(there, str(here), None, entry.note))
    for here, mode in reversed(made):
        os.chmod(here, mode)
    return total


async def _top(remote: Remote, path: str) -> Entry | None:
    """What is at ``path`` (not below it), or None."""
    try:
        return (await remote.entries(path, depth=0))[0]
    except FileNotFoundError:
        return None


def _tell(progress: Progress | None, step: Step) -> None:
    if progress is not None:
        progress(step)
