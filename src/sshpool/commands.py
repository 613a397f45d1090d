"""Shell text, built in one pure place: every argument quoted, every builder unit-tested.

Pure functions, no I/O: each returns the text one command or helper sends. Secrets never appear
in what these return: a sudo password or a git token is read from the command's stdin by the
shell on the far side.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping

__all__ = [
    "CD_FAILED",
    "ENV_NAME",
    "MARKER_VAR",
    "TOP_COMMAND",
    "apt_install",
    "directory_problem",
    "git_clone",
    "git_url",
    "in_directory",
    "join_path",
    "kill_marked",
    "nohup",
    "packages",
    "pip_freeze",
    "pip_install",
    "pip_requirements",
    "ps_command",
    "quote_all",
    "quote_path",
    "sudo_command",
    "with_env",
    "with_marker",
]

MARKER_VAR = "SSHPOOL_RUN"
#: The exit status, with no output, of a command whose directory (``chdir``) could not be entered:
#: above the 128+N of signals and the shells' own 126/127, so it is rarely a command's own.
CD_FAILED = 211
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_all(args: Iterable[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def with_env(command: str, env: Mapping[str, str] | None) -> str:
    """Prefix ``export K=v;`` (sshd drops SSH env requests outside AcceptEnv). Visible in ``ps``."""
    if not env:
        return command
    parts = []
    for key, value in env.items():
        if not ENV_NAME.match(key):
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


def quote_path(path: str) -> str:
    """Quote a remote path but keep a leading ``~/`` unquoted, so the remote shell expands it."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def in_directory(cwd: str | None, command: str) -> str:
    """Run ``command`` in ``cwd``; when the ``cd`` fails, none of it runs and the shell exits
    :data:`CD_FAILED` without a word (then :func:`directory_problem` tells why)."""
    if not cwd or cwd == "~":
        return command
    return f"cd {quote_path(cwd)} 2>/dev/null || exit {CD_FAILED}; {command}"


def directory_problem(cwd: str) -> str:
    """Prints why ``cwd`` cannot be entered: ``missing``, ``not_a_directory`` or ``denied``; ``ok``
    when it can."""
    d = quote_path(cwd)
    return (
        f"if [ ! -e {d} ]; then echo missing; elif [ ! -d {d} ]; then echo not_a_directory; "
        f"elif cd {d} 2>/dev/null; then echo ok; else echo denied; fi"
    )


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
    return f"{{ {start} >> {quote_path(log)} 2>&1 < /dev/null & echo $!; }}"


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


TOP_COMMAND = "ps -Ao %cpu,%mem,user,comm"
"""The classic ``ps -Afo ...`` is refused by procps-ng ("conflicting format options")."""

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def packages(pkgs: str | Iterable[str]) -> list[str]:
    """Classic callers pass ``'git python-pip'`` as well as lists: a string is split on whitespace."""
    names = pkgs.split() if isinstance(pkgs, str) else [str(p) for p in pkgs]
    if not names or any(not n.strip() for n in names):
        raise ValueError(f"no package names in {pkgs!r}: give a name, a space-separated string or a list")
    return names


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
