"""The API token: ``SSHPOOL_TOKEN``, else ``--token-file``, else ``<state-dir>/token``, made on first start."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path

__all__ = ["TokenFileError", "load_token"]

log = logging.getLogger("sshpool")


class TokenFileError(Exception):
    """A ``--token-file`` that cannot serve: missing or empty. At start it stops the daemon; at a
    reload the old token stays."""


def load_token(state_dir: Path, token_file: str | None) -> str:
    """SSHPOOL_TOKEN, else ``--token-file``, else ``<state-dir>/token`` (made 0600 on first start).

    A given token file is the admin's: an empty one is refused rather than overwritten with a
    token nobody was told about."""
    env = os.environ.get("SSHPOOL_TOKEN", "").strip()
    if env:
        return env
    path = Path(token_file) if token_file else state_dir / "token"
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if token_file:
            raise TokenFileError(f"--token-file {token_file}: no such file") from None
        token = ""
    if token:
        _warn_if_others_read(path)
        return token
    if token_file:
        raise TokenFileError(
            f"--token-file {token_file} is empty: write a token into it, e.g. "
            f"python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > {token_file}; "
            "or leave --token-file out and sshpoold makes one in its state dir"
        )
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def _warn_if_others_read(path: Path) -> None:
    """The same warning as for a channel file that holds passwords: the token is the API's key."""
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            log.warning("warning: the token file %s may be read by other users: chmod 600 %s", path, path)
