"""A program on a new pseudo-terminal, as a person at a shell starts it, timed to the remote
shell's prompt: what ``sshpoolctl ssh`` and ``ssh host`` are measured by."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from typing import Any

from .common import Tally

#: The end of the login shell's prompt (bash drops what is typed before it has printed one).
PROMPT = b"$ "
ROWS, COLS = 24, 80
WAIT = 30.0


class Pty:
    """``argv`` on a new pseudo-terminal that is its controlling terminal, ROWS x COLS."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: size the terminal before the program reads it, then become it
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
                os.execvpe(argv[0], argv, env)  # noqa: S606 (argv as given, no shell)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.seen = b""

    def expect(self, wanted: bytes, within: float = WAIT) -> None:
        """Read until ``wanted`` has been shown; raises on a timeout or the end of the program."""
        deadline = time.monotonic() + within
        while wanted not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {wanted!r} within {within:g} s; the terminal showed {self.seen[-200:]!r}")
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # EIO: the program ended and closed the terminal
                    chunk = b""
                if not chunk:
                    raise EOFError(f"the program ended before {wanted!r}; it showed {self.seen[-200:]!r}")
                self.seen += chunk

    def finish(self, keys: bytes = b"exit\r", within: float = 10.0) -> int:
        """Type ``keys`` and wait for the program's exit status; a program that does not end in
        ``within`` seconds is killed (and counts as a failure)."""
        with contextlib.suppress(OSError):
            os.write(self.fd, keys)
        deadline = time.monotonic() + within
        try:
            while time.monotonic() < deadline:
                if select.select([self.fd], [], [], 0.05)[0]:
                    with contextlib.suppress(OSError):
                        os.read(self.fd, 65536)
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    return os.waitstatus_to_exitcode(status)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            return -signal.SIGKILL
        finally:
            os.close(self.fd)


def time_to_prompt(n: int, argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """``n`` times: start ``argv`` on a new terminal, time until the remote prompt, then ``exit``."""
    tally = Tally()
    for _ in range(n):
        started = time.perf_counter()
        term = Pty(argv, env)
        try:
            term.expect(PROMPT)
            elapsed = time.perf_counter() - started
        except (TimeoutError, EOFError) as exc:
            term.finish(b"\x04")
            tally.fail(exc)
            continue
        code = term.finish()
        if code == 0:
            tally.times.append(elapsed)
        else:
            tally.fail(f"exit {code} after the prompt; the terminal showed {term.seen[-200:]!r}")
    return tally.as_dict()
