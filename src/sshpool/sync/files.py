"""The file-shaped pieces of the sync Connection: the classic ``exec_command`` stdin, and the
blocking iterator over output as it arrives."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sshpool.bridge import iterate
from sshpool.connection import Chunk, OutputStream
from sshpool.inputs import StdinSource, followed_by
from sshpool.result import Result

if TYPE_CHECKING:
    pass  # annotations only: sync sits beside the client

__all__ = ["ChunkIterator", "Exec", "StdinFile"]


class Exec:
    """The classic ``exec_command``: input written to stdin is held until stdout or stderr is
    first read, or stdin is closed; then the command runs once with it."""

    def __init__(self, run: Callable[[StdinSource | None], Result], first: StdinSource | None = None) -> None:
        self._run = run
        self._first = first
        self._input: bytearray | None = None
        self._result: Result | None = None
        self._lock = threading.Lock()

    def result(self) -> Result:
        with self._lock:
            if self._result is None:
                self._result = self._run(self._stdin())
            return self._result

    def _stdin(self) -> StdinSource | None:
        if self._input is None:
            return self._first
        return followed_by(self._first, bytes(self._input))

    def write(self, data: bytes | str) -> int:
        with self._lock:
            if self._result is not None:
                raise ValueError("stdin is closed: the command has already run")
            blob = data.encode() if isinstance(data, str) else bytes(data)
            if self._input is None:
                self._input = bytearray()
            self._input += blob
            return len(blob)


class StdinFile:
    """Write-only; ``close()`` (or reading stdout) sends what was written and runs the command."""

    def __init__(self, session: Exec) -> None:
        self._session = session
        self.closed = False

    def write(self, data: bytes | str) -> int:
        return self._session.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._session.result()

    def __enter__(self) -> StdinFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChunkIterator:
    """``for chunk in conn.stream(cmd)``, the blocking twin of :class:`~sshpool.connection.OutputStream`:
    chunks as they arrive, ``.result`` once the loop ends; ``close()`` (or leaving a ``with``
    block) early stops the command."""

    def __init__(self, stream: OutputStream) -> None:
        self._stream = stream
        self._chunks = iterate(stream)

    @property
    def result(self) -> Result | None:
        return self._stream.result

    def __iter__(self) -> ChunkIterator:
        return self

    def __next__(self) -> Chunk:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()

    def __enter__(self) -> ChunkIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
