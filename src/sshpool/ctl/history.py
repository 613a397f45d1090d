"""The interactive shell's line editing: readline's word breaks and a history file that outlives
the session and never keeps a DSN's password."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from sshpool.defaults import default_state_dir
from sshpool.dsn import DSN
from sshpool.errors import DSNError

__all__ = ["History", "history_path", "redact"]

#: Lines the history file keeps.
HISTORY_LENGTH = 2000


def history_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$SSHPOOL_HISTORY``, else ``sshpoolctl_history`` in the user's state dir
    (``$XDG_STATE_HOME/sshpool``, ``~/.local/state/sshpool``). ``SSHPOOL_STATE_DIR`` names a
    daemon's state, not the user's, so it does not move the history."""
    env = os.environ if environ is None else environ
    if env.get("SSHPOOL_HISTORY"):
        return Path(env["SSHPOOL_HISTORY"]).expanduser()
    user = {name: value for name, value in env.items() if name != "SSHPOOL_STATE_DIR"}
    return default_state_dir(user) / "sshpoolctl_history"


def redact(line: str) -> str:
    """A history line with any DSN password replaced by ``****``: history never keeps one."""
    words = line.split(" ")
    for i, word in enumerate(words):
        if "://" in word and "@" in word:
            with contextlib.suppress(DSNError, ValueError):
                if DSN.parse(word, scheme_alias=True).password is not None:
                    scheme, rest = word.split("://", 1)
                    userinfo, host = rest.rsplit("@", 1)
                    words[i] = f"{scheme}://{userinfo.split(':', 1)[0]}:****@{host}"
    return " ".join(words)


class History:
    """readline, set up for the shell; ``path`` is the history file, None when it cannot be kept
    (this session's lines are then not saved)."""

    def __init__(self, readline: ModuleType, path: Path | None) -> None:
        self.readline = readline
        self.path = path

    @classmethod
    def open(cls) -> History | None:
        """None without readline. It is imported here, for an interactive shell only: importing it
        initialises libreadline (which reads ``~/.inputrc``), which a one-shot or piped sshpoolctl
        never needs."""
        try:
            import readline  # noqa: PLC0415, RUF100 (see the docstring)
        except ImportError:  # pragma: no cover - every supported platform has it
            return None
        readline.set_completer_delims(" \t\n'\"")
        path = history_path()
        kept = None
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.touch(mode=0o600)
            readline.read_history_file(path)
            kept = path
        readline.set_history_length(HISTORY_LENGTH)
        return cls(readline, kept)

    def record(self, line: str) -> None:
        """Append ``line``, which readline has just added to its history, to the file, its
        password redacted there and in readline's own list."""
        if self.path is None or not line.strip():
            return
        n = self.readline.get_current_history_length()
        if n and self.readline.get_history_item(n) == line:
            safe = redact(line)
            if safe != line:
                self.readline.replace_history_item(n - 1, safe)
            with contextlib.suppress(OSError):
                self.readline.append_history_file(1, self.path)
