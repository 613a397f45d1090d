"""Shell text for the remote-ops helpers (nohup, sudo, git, pip, top), every argument quoted.

Pure functions, no I/O: each returns the text one helper sends, so each can be unit-tested and
read in one place. Secrets never appear in what these return: a sudo password or a git token is
read from the command's stdin by the shell on the far side.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from sshpool.commands import nohup

__all__ = [
    "TOP_COMMAND",
    "git_clone",
    "git_url",
    "nohup_command",
    "packages",
    "pip_freeze",
    "pip_requirements",
    "quote_path",
    "sudo_command",
]

TOP_COMMAND = "ps -Ao %cpu,%mem,user,comm"
"""The classic ``ps -Afo ...`` is refused by procps-ng ("conflicting format options")."""

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def quote_path(path: str) -> str:
    """Quote a remote path but keep a leading ``~/`` unquoted, so the remote shell expands it."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def packages(pkgs: str | Iterable[str]) -> list[str]:
    """Classic callers pass ``'git python-pip'`` as well as lists: a string is split on whitespace."""
    names = pkgs.split() if isinstance(pkgs, str) else [str(p) for p in pkgs]
    if not names or any(not n.strip() for n in names):
        raise ValueError(f"no package names in {pkgs!r}: give a name, a space-separated string or a list")
    return names


def nohup_command(command: str, log: str) -> str:
    """Start ``command`` detached and print its PID: :func:`sshpool.commands.nohup`, the one
    builder of that text. ``setsid`` is not a process group leader there (no job control in a
    non-interactive shell), so it does not fork: the PID printed is the new session's leader."""
    return nohup(command, log)


def sudo_command(command: str, *, with_password: bool) -> str:
    """``sudo -S -p ''`` reads a password from stdin without a prompt; ``sudo -n`` never asks
    (a password requirement becomes an error instead of a hang)."""
    flags = "-S -p ''" if with_password else "-n"
    return f"sudo {flags} -- sh -c {shlex.quote(command)}"


def git_url(username: str, repo: str, base_url: str = "https://github.com") -> str:
    """``<base_url>/<username>/<repo>.git`` (``.git`` added once)."""
    for what, value in (("username", username), ("repo", repo)):
        if not value or not _NAME.match(value):
            raise ValueError(f"invalid git {what} {value!r}: use letters, digits, '_', '.' or '-'")
    if not base_url:
        raise ValueError("base_url is empty: give e.g. https://github.com or a path to bare repositories")
    name = repo if repo.endswith(".git") else repo + ".git"
    return f"{base_url.rstrip('/')}/{username}/{name}"


# A one-shot credential helper: it answers "get" with the token read from a 0600 file that exists
# only while the clone runs. The token travels over the command's stdin, so it is never in an
# argv (``ps``), in ``.git/config`` (``-c`` options are not saved) or in the output.
_HELPER = (
    '!h() { test "$1" = get && printf "username=x-access-token\\npassword=%s\\n" "$(cat "$SSHPOOL_GIT_TOKEN")"; }; h'
)


def git_clone(url: str, dest: str | None, *, with_token: bool) -> str:
    """``git clone URL [DEST]``; prompts are off so a missing credential fails instead of hanging.
    With a token, a subshell reads it from stdin into a 0600 temp file that its EXIT trap removes."""
    target = f" {quote_path(dest)}" if dest else ""
    clone = f"git clone -q {shlex.quote(url)}{target}"
    if not with_token:
        return f"GIT_TERMINAL_PROMPT=0 {clone}"
    return (
        '(IFS= read -r t; f=$(umask 077 && mktemp "${TMPDIR:-/tmp}/.sshpool-git.XXXXXX") || exit 1; '
        'trap \'rm -f "$f"\' EXIT; printf \'%s\\n\' "$t" > "$f"; unset t; '
        f'SSHPOOL_GIT_TOKEN="$f" GIT_TERMINAL_PROMPT=0 git -c credential.helper= '
        f"-c credential.helper={shlex.quote(_HELPER)} clone -q {shlex.quote(url)}{target})"
    )


def pip_requirements(path: str) -> str:
    return f"pip install -r {quote_path(path)}"


def pip_freeze() -> str:
    return "pip freeze"
