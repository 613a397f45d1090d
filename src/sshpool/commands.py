"""Shell text, built in one pure place: every argument quoted, every builder unit-tested."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping

__all__ = [
    "MARKER_VAR",
    "apt_install",
    "in_directory",
    "join_path",
    "kill_marked",
    "nohup",
    "pip_install",
    "ps_command",
    "quote_all",
    "with_env",
    "with_marker",
]

MARKER_VAR = "SSHPOOL_RUN"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_all(args: Iterable[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def with_env(command: str, env: Mapping[str, str] | None) -> str:
    """Prefix ``export K=v;`` (sshd drops SSH env requests outside AcceptEnv). Visible in ``ps``."""
    if not env:
        return command
    parts = []
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"invalid environment variable name {key!r}: use letters, digits and '_'")
        parts.append(f"export {key}={shlex.quote(str(value))};")
    return " ".join(parts) + " " + command


def with_marker(command: str, marker: str) -> str:
    """Tag the command's process tree with a unique environment variable, so that it can be
    found and stopped even when sshd refuses signal requests (root sessions) or when the command
    left children behind. The newline keeps a trailing comment in ``command`` harmless."""
    return f"export {MARKER_VAR}={marker}\n{command}"


def kill_marked(marker: str, grace: float = 0.5) -> str:
    """A POSIX sh script that TERMs every process carrying ``marker``, waits up to ``grace`` seconds
    for them to go, then KILLs what is left. One ``grep`` over all environments per scan keeps it fast."""
    needle = shlex.quote(f"{MARKER_VAR}={marker}")
    scan = f"p=$(grep -lzxF {needle} /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)"
    polls = max(1, round(grace / 0.05))
    return (
        f'{scan}; [ -z "$p" ] && exit 0; kill -TERM $p 2>/dev/null; i=0; '
        f'while [ $i -lt {polls} ]; do sleep 0.05; {scan}; [ -z "$p" ] && exit 0; i=$((i+1)); done; '
        "kill -KILL $p 2>/dev/null; exit 0"
    )


def join_path(cwd: str, path: str) -> str:
    """``chdir`` semantics: absolute replaces, relative appends, ``..`` normalised (POSIX)."""
    if path.startswith("/") or path.startswith("~"):
        new = path
    else:
        new = posixpath.join(cwd, path)
    head, _, rest = new.partition("/")
    if head == "~":
        return "~" + (("/" + posixpath.normpath(rest)) if rest and posixpath.normpath(rest) != "." else "")
    return posixpath.normpath(new)


def _quote_path(path: str) -> str:
    if path == "~":
        return "~"
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def in_directory(cwd: str | None, command: str) -> str:
    """Run ``command`` in ``cwd`` only if the ``cd`` worked."""
    if not cwd or cwd == "~":
        return command
    return f"cd {_quote_path(cwd)} && {command}"


def nohup(command: str, log: str) -> str:
    """Start ``command`` detached (its own session; all three streams away from the SSH session,
    appended to ``log``) and print its PID, which leads the new session (``kill -- -PID``).

    ``command`` runs under ``sh -c`` as written (an ``exec`` prefix would run only the first of
    ``a; b``). The braces keep ``$!`` the detached process even after a ``cd ... &&`` prefix (a
    bare ``a && b &`` backgrounds the whole list in a subshell, whose PID is the wrong one). The
    marker variable is dropped: the detached process is not part of the command that started it."""
    if not command.strip():
        raise ValueError("nohup needs a command to run")
    start = f"env -u {MARKER_VAR} setsid nohup sh -c {shlex.quote(command)}"
    return f"{{ {start} >> {_quote_path(log)} 2>&1 < /dev/null & echo $!; }}"


def apt_install(packages: Iterable[str], *, root: bool, update: bool = False) -> str:
    sudo = "" if root else "sudo -n "
    pkgs = quote_all(packages)
    env = "DEBIAN_FRONTEND=noninteractive"
    install = f"{sudo}env {env} apt-get install -y {pkgs}"
    if update:
        return f"{sudo}env {env} apt-get update && {install}"
    return install


def pip_install(packages: Iterable[str], *, upgrade: bool = True) -> str:
    return "pip install " + ("-U " if upgrade else "") + quote_all(packages)


def ps_command(args: str | None = None, options: str = "", all: bool = True, verbose: bool = True) -> str:
    """The classic rule: ``-`` + args + ``A`` if all + ``f`` if verbose, options appended."""
    flags = "-" + (args or "") + ("A" if all else "") + ("f" if verbose else "")
    cmd = "ps" if flags == "-" else f"ps {flags}"
    return f"{cmd} {options}".strip()
