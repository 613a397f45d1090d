"""The ``ssh-config`` source: every concrete ``Host`` name of an OpenSSH client config.

``Include`` is followed as OpenSSH follows it (a relative path is under ``~/.ssh``, globs expand
in sorted order, 16 levels at most); wildcard (``*``, ``?``) and negated (``!``) patterns and
``Match`` blocks name no host, so they are listed as skipped. A ``# sshpool-tags: web,prod``
comment inside a Host block tags every name of that block.

A name from the daemon user's own ``~/.ssh/config`` becomes ``name://name``: the channel resolves
through ssh_config when it connects, as any DSN does, so it lands where ``ssh -G name`` says and
keeps every option of the file (IdentityFile, ProxyJump...). A name from another file is resolved
through that file now, and its HostName, User and Port are written into the DSN. A name that is
not a valid alias is skipped, not renamed: the alias is the name ssh_config knows.
"""

from __future__ import annotations

import getpass
import glob
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from sshpool.core.configfiles import load_client_config
from sshpool.dsn import DSN, check_tag
from sshpool.errors import DSNError, RequestError
from sshpool.inventory.plan import Found, dsn_for

__all__ = ["MAX_DEPTH", "read", "user_config"]

#: OpenSSH's limit on nested Includes (READCONF_MAX_DEPTH).
MAX_DEPTH = 16
_TAGS = re.compile(r"^#\s*sshpool-tags\s*:(.*)$", re.IGNORECASE)
_LINE = re.compile(r"^(\S+?)(?:\s*=\s*|\s+)(.*)$")


def user_config() -> Path:
    """The daemon user's ``~/.ssh/config``, as the channels resolve through it."""
    return Path("~/.ssh/config").expanduser()


@dataclass
class _Host:
    name: str
    tags: list[str] = field(default_factory=list)
    bad_tag: str | None = None


@dataclass
class _Reading:
    hosts: dict[str, _Host] = field(default_factory=dict)
    found: Found = field(default_factory=Found)


def read(path: Path | str | None = None) -> Found:
    """The hosts of ``path`` (default: :func:`user_config`); RequestError when it cannot be read."""
    own = user_config()
    given = Path(path).expanduser() if path else own
    if not given.is_file():
        raise RequestError(f"no ssh_config file at {given}: give the path of a readable file")
    reading = _Reading()
    _parse(given, reading, depth=0)
    resolved_later = own.is_file() and given.samefile(own)
    found = reading.found
    for host in reading.hosts.values():
        if host.bad_tag is not None:
            found.skip(host.name, host.bad_tag)
            continue
        try:
            dsn = dsn_for(host.name, host.name, tags=host.tags) if resolved_later else _resolved(given, host)
        except DSNError as exc:
            found.skip(host.name, f"not usable as an alias: {exc}")
            continue
        found.add(dsn)
    return found


def _resolved(path: Path, host: _Host) -> DSN:
    config = load_client_config([str(path)], _local_user(), (), host.name, ())
    user = config.get("User")
    port = config.get("Port")
    return dsn_for(
        host.name,
        str(config.get("Hostname", host.name)),
        user=str(user) if user else None,
        port=int(str(port)) if port else None,
        tags=host.tags,
    )


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _parse(path: Path, reading: _Reading, depth: int) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RequestError(f"cannot read {path}: {exc.strerror or exc}") from None
    block: list[_Host] = []  # the names of the Host block being read, in this file
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            tags = _TAGS.match(line)
            if tags and block:
                _tag(block, tags.group(1))
            continue
        match = _LINE.match(line)
        if not match:
            continue
        keyword, rest = match.group(1).lower(), match.group(2)
        if keyword == "host":
            block = _host_line(rest, reading)
        elif keyword == "match":
            block = []
            reading.found.skip(f"Match {rest}", "a Match block is a condition, not a host")
        elif keyword == "include":
            for included in _includes(rest):
                if depth + 1 >= MAX_DEPTH:
                    raise RequestError(f"{path}: Include nested deeper than {MAX_DEPTH} files (a loop?)")
                _parse(included, reading, depth + 1)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:  # an unclosed quote: OpenSSH refuses the line; take it word by word
        return text.split()


def _host_line(rest: str, reading: _Reading) -> list[_Host]:
    block: list[_Host] = []
    for pattern in _words(rest):
        if pattern.startswith("!"):
            reading.found.skip(pattern, "a negated pattern excludes hosts, it names none")
        elif any(ch in pattern for ch in "*?"):
            reading.found.skip(pattern, "a wildcard pattern matches hosts, it names none")
        else:
            block.append(reading.hosts.setdefault(pattern.casefold(), _Host(pattern)))
    return block


def _tag(block: list[_Host], text: str) -> None:
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        for host in block:
            try:
                check_tag(word)
            except DSNError as exc:
                host.bad_tag = f"its # sshpool-tags comment: {exc}"
                continue
            if word.casefold() not in (t.casefold() for t in host.tags):
                host.tags.append(word)


def _includes(rest: str) -> list[Path]:
    """The files an Include names: ``~`` expanded, relative to ~/.ssh, globs sorted."""
    paths: list[Path] = []
    for word in _words(rest):
        pattern = Path(word).expanduser()
        if not pattern.is_absolute():
            pattern = user_config().parent / pattern
        paths += [Path(p) for p in sorted(glob.glob(str(pattern))) if Path(p).is_file()]
    return paths
