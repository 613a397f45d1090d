"""``put`` and ``get`` of the helpers: one file, or with ``recursive=True`` a directory tree as
``scp -r`` copies it (the rules of :mod:`sshpool.trees`), through the runner's ``put_file`` and
``get_file`` (SFTP on a direct connection, ``/channels/<alias>/files`` and ``/dirs`` through
the daemon). A directory given without ``recursive=True`` is an IsADirectoryError that says so.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from pathlib import Path, PurePosixPath

from sshpool.commands import join_path
from sshpool.connection.runner import FileRunner, Runner
from sshpool.trees import Progress, Step

__all__ = ["download", "files_of", "progress_for", "remote_path", "upload"]

log = logging.getLogger("sshpool")

_HINT = "pass recursive=True to copy it with its contents"


def files_of(runner: Runner) -> FileRunner:
    if not isinstance(runner, FileRunner):
        raise TypeError(f"{type(runner).__name__} cannot transfer files")
    return runner


def remote_path(cwd: str, remote: str) -> str:
    """SFTP paths are relative to the login directory: resolve against ``cwd`` and drop ``~/``."""
    path = join_path(cwd, remote) if not remote.startswith("/") else remote
    if path == "~":
        return "."
    return path[2:] if path.startswith("~/") else path


def progress_for(name: str, interactive: bool) -> Progress:
    """Each file of a tree copy as an INFO log line (and printed on an interactive connection)."""

    def tell(step: Step) -> None:
        if step.size is None:
            text = f"skipped {step.source}: {step.note}"
        else:
            text = f"{step.source} -> {step.target} ({step.size} bytes)"
        log.info("%s: %s", name, text)
        if interactive:
            print(f"[{name}] {text}", flush=True)

    return tell


async def upload(runner: FileRunner, local: Path, remote: str, *, recursive: bool, progress: Progress) -> int:
    if recursive:
        return await runner.put_file(local, remote, recursive=True, progress=progress)
    if await asyncio.to_thread(local.is_dir):
        raise IsADirectoryError(errno.EISDIR, f"{local} is a directory: {_HINT}", str(local))
    return await runner.put_file(local, remote)


async def download(
    runner: FileRunner, remote: str, local: Path, *, recursive: bool, progress: Progress, name: str
) -> int:
    if recursive:
        return await runner.get_file(remote, local, recursive=True, progress=progress)
    if await asyncio.to_thread(local.is_dir):  # into it, as cp and scp do
        local = local / PurePosixPath(remote).name
    try:
        return await runner.get_file(remote, local)
    except IsADirectoryError:
        raise IsADirectoryError(errno.EISDIR, f"{remote} on {name} is a directory: {_HINT}", remote) from None
