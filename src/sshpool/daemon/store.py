"""The daemon's channel list, kept so a restart (kill -9 included) brings the same channels back.

One small Protocol, so a shared database can replace SQLite when several daemons share work.
SQLite in WAL mode with ``synchronous=FULL``: a write returns only once it is on disk, so an
acknowledged add or delete survives a crash. Each DSN is stored encrypted with Fernet (its
password included); the key lives beside the database in a 0600 file, so the database alone (a
backup, a copied file) reveals no password.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken

from sshpool.dsn import DSN

__all__ = ["SQLiteStore", "Store", "StoredChannel"]

SOURCES = ("channel", "config", "api", "import")


@dataclass(frozen=True)
class StoredChannel:
    """A remembered channel: its DSN and where it came from (``--channel``, ``--config``, the API,
    an import)."""

    dsn: DSN
    source: str
    created: float


class Store(Protocol):
    """Where the daemon remembers its channels."""

    def load(self) -> list[StoredChannel]: ...

    def put(self, dsn: DSN, source: str) -> None: ...

    def put_many(self, dsns: list[DSN], source: str) -> None: ...

    def delete(self, alias: str) -> bool: ...

    def close(self) -> None: ...


def _private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (no window where it is wider)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def load_or_create_key(path: Path) -> bytes:
    """The Fernet key at ``path``, made 0600 on first use."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return key


class SQLiteStore:
    """Channels in ``<state_dir>/state.db``; thread-safe so callers may write from a worker thread."""

    def __init__(self, state_dir: Path | str) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.dir / "state.db"
        self._fernet = Fernet(load_or_create_key(self.dir / "state.key"))
        _private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS channels ("
            " key TEXT PRIMARY KEY, alias TEXT NOT NULL, display TEXT NOT NULL,"
            " dsn BLOB NOT NULL, source TEXT NOT NULL, created REAL NOT NULL)"
        )
        for extra in ("state.db-wal", "state.db-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(self.dir / extra, 0o600)

    def load(self) -> list[StoredChannel]:
        with self._lock:
            rows = self._db.execute("SELECT dsn, source, created FROM channels ORDER BY created").fetchall()
        out = []
        for blob, source, created in rows:
            try:
                text = self._fernet.decrypt(blob).decode()
            except InvalidToken:
                raise RuntimeError(
                    f"{self.path}: cannot decrypt a stored channel; was {self.dir / 'state.key'} replaced? "
                    "Restore it, or move the database away to start empty"
                ) from None
            out.append(StoredChannel(DSN.parse(text, scheme_alias=True), source, float(created)))
        return out

    def put(self, dsn: DSN, source: str) -> None:
        """Insert or replace the channel with ``dsn``'s alias; durable when this returns."""
        self.put_many([dsn], source)

    def put_many(self, dsns: list[DSN], source: str) -> None:
        """:meth:`put` for each, in one transaction: one wait for the disk, however many."""
        now = time.time()
        rows = [
            (d.key, d.alias, d.to_text(), self._fernet.encrypt(d.to_text(reveal_password=True).encode()), source, now)
            for d in dsns
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO channels (key, alias, display, dsn, source, created) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET alias=excluded.alias, display=excluded.display,"
                    " dsn=excluded.dsn, source=excluded.source",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def delete(self, alias: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM channels WHERE key = ?", (alias.casefold(),))
        return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
