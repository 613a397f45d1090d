"""OpenSSH client config files, tokenized once per change of the file instead of once per host.

asyncssh evaluates ``~/.ssh/config`` for one host at a time and re-reads and re-tokenizes (shlex)
every line each time: ~33 ms for a 1,000-Host file, so importing such a fleet spent half a minute
splitting the same lines again. The evaluation stays asyncssh's (its handlers, Match conditions,
Include and %-tokens); only the file reading under it is kept, per path, size, inode and
mtime, and host patterns are compiled once. tests/core/test_configfiles.py compares the answers
with asyncssh's own parser on the same files.
"""

from __future__ import annotations

import functools
import os
import shlex
import threading
from pathlib import Path
from typing import NamedTuple

from asyncssh.config import SSHClientConfig
from asyncssh.pattern import WildcardPatternList

__all__ = ["load_client_config"]

_KEPT_FILES = 64


class _Line(NamedTuple):
    number: int
    text: str  # stripped, for the options asyncssh takes unsplit (ProxyCommand)
    option: str  # lowercased keyword
    args: tuple[str, ...]
    error: str | None  # shlex's complaint, raised when the line is reached, as asyncssh does


_files: dict[tuple[str, int, int, int, int], tuple[_Line, ...]] = {}
_files_lock = threading.Lock()


def _read(path: Path) -> tuple[_Line, ...]:
    st = os.stat(path)
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _files_lock:
        lines = _files.get(key)
    if lines is None:
        lines = _tokenize(path)
        with _files_lock:
            for old in [k for k in _files if k[0] == key[0]]:
                del _files[old]
            while len(_files) >= _KEPT_FILES:
                del _files[next(iter(_files))]
            _files[key] = lines
    return lines


def _tokenize(path: Path) -> tuple[_Line, ...]:
    """The lines as asyncssh's SSHConfig.parse splits them (``=`` forms included)."""
    lines: list[_Line] = []
    conditionals = SSHClientConfig._conditionals  # noqa: SLF001 - the parser's own grammar tables
    no_split = SSHClientConfig._no_split  # noqa: SLF001
    with open(path) as file:
        for number, raw in enumerate(file, 1):
            line = raw.strip()
            if not line or line[0] == "#":
                continue
            try:
                split_args = shlex.split(line)
            except ValueError as exc:
                lines.append(_Line(number, line, "", (), str(exc)))
                continue
            args: list[str] = []
            option = ""
            allow_equal = True
            for i, arg in enumerate(split_args, 1):
                if arg.startswith("="):
                    if len(arg) > 1:
                        args.append(arg[1:])
                elif not allow_equal:
                    args.extend(split_args[i - 1 :])
                    break
                elif arg.endswith("="):
                    args.append(arg[:-1])
                elif "=" in arg:
                    arg, val = arg.split("=", 1)
                    args.append(arg)
                    args.append(val)
                else:
                    args.append(arg)
                if i == 1:
                    option = args.pop(0).lower()
                    allow_equal = option in conditionals
            if option in no_split:
                args = [line.lstrip()[len(option) :].strip()]
            lines.append(_Line(number, line, option, tuple(args), None))
    return tuple(lines)


@functools.lru_cache(maxsize=4096)
def _host_pattern(pattern: str) -> WildcardPatternList:
    return WildcardPatternList(pattern)


class _KeptConfig(SSHClientConfig):
    """asyncssh's client config evaluated over lines already read and split."""

    def parse(self, path: Path) -> None:
        self._path = path
        self._line_no = 0
        self._matching = True
        self._tokens = {"%": "%"}
        for line in _read(path):
            self._line_no = line.number
            if line.error is not None:
                self._error(line.error)
            if not self._matching and line.option not in self._conditionals:
                continue
            try:
                option, handler = self._handlers[line.option]
            except KeyError:
                continue
            args = list(line.args)
            if not args:
                self._error(f"Missing {option} value")
            handler(self, option, args)
            if args:
                self._error(f"Extra data at end: {' '.join(args)}")
        self._set_tokens()
        for option in self._percent_expand:
            value = self._options.get(option)
            if isinstance(value, list):
                self._options[option] = [self._expand_val(item) for item in value]
            elif isinstance(value, str):
                self._options[option] = self._expand_val(value)

    def _match_host(self, option: str, args: list[str]) -> None:
        self._matching = _host_pattern(",".join(args)).matches(self._orig_host)
        args.clear()

    _handlers = {**SSHClientConfig._handlers, "host": ("Host", _match_host)}  # noqa: SLF001


def load_client_config(
    paths: list[str], local_user: str, user: str | tuple[()], host: str, port: int | tuple[()]
) -> SSHClientConfig:
    """``SSHClientConfig.load(None, paths, False, False, False, ...)``, from the kept lines."""
    config = _KeptConfig(None, False, False, False, local_user, user, host, port)  # type: ignore[arg-type]  # asyncssh takes () for "not given"
    for path in paths:
        config.parse(Path(path))
    config.loaded = True
    return config
