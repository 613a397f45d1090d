"""Who ran what, where, with which outcome: JSON lines in the state dir, rotated by size.

An audit line never holds command output, a password or the token: it records the command text
(what an operator needs to answer "who ran that"), the alias, the exit code or error code, the
duration and the request id, which also appears in the response's ``X-Request-ID`` header.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AuditLog"]

#: json.dumps(record, ensure_ascii=False, default=str), without building an encoder per line.
_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode
#: How far back :meth:`AuditLog.recent` reads: the current file's end, not its whole 10 MiB.
_RECENT_BYTES = 1024 * 1024


class AuditLog:
    """Append-only JSON lines; at ``max_bytes`` the file moves to ``.1`` (up to ``backups`` kept).

    An outside rotation (logrotate moving or removing the file) is noticed at the next line, as
    logging's WatchedFileHandler does, and :meth:`reopen` (SIGHUP) does it at once, so lines never
    go on into a file that was moved away."""

    def __init__(self, path: Path | str, *, max_bytes: int = 10 * 1024 * 1024, backups: int = 5) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._ident = (0, 0)  # the (st_dev, st_ino) of the file the fd writes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()

    def _open(self) -> int:
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        os.chmod(self.path, 0o600)
        st = os.fstat(fd)
        self._ident = (st.st_dev, st.st_ino)
        return fd

    def _rotate(self) -> None:
        os.close(self._fd)
        for i in range(self.backups - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.backups > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            os.unlink(self.path)
        self._fd = self._open()

    def write(self, event: str, **fields: Any) -> None:
        record: dict[str, Any] = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
        record.update(fields)
        line = (_ENCODE(record) + "\n").encode()
        with self._lock:
            size = self._size_if_ours()
            if size is None:  # moved or removed: go on in a new file at the path
                os.close(self._fd)
                self._fd = self._open()
                size = os.fstat(self._fd).st_size
            if size + len(line) > self.max_bytes:
                self._rotate()
            os.write(self._fd, line)

    def _size_if_ours(self) -> int | None:
        """The size of the file at the path when it is still the one we write, else None: one
        stat per line tells both (the fd's own size is the path's while they are one file)."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return None
        return now.st_size if (now.st_dev, now.st_ino) == self._ident else None

    def recent(self, alias: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` lines about ``alias`` (aliases compared without regard to case) in
        the current file's last MiB, oldest first: what a page shows beside a channel."""
        key = alias.casefold()
        try:
            with open(self.path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - _RECENT_BYTES))
                text = fh.read()
        except FileNotFoundError:
            return []
        lines = text.split(b"\n")[1:] if size > _RECENT_BYTES else text.split(b"\n")  # a cut first line
        found: list[dict[str, Any]] = []
        for line in lines:
            if key.encode() in line.lower():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and str(record.get("alias", "")).casefold() == key:
                    found.append(record)
        return found[-limit:]

    def reopen(self) -> None:
        """Open the path again (logrotate's ``postrotate``: ``kill -HUP``)."""
        with self._lock:
            os.close(self._fd)
            self._fd = self._open()

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)
