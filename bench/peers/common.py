"""What every contender shares: the commands, the checks on their answers, and the tallies."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..procs import fd_count, rss_bytes

ECHO = "echo hi"
ECHO_OUT = b"hi\n"


def cipher_options() -> dict[str, Any]:
    """The ciphers sshpool offers (AES-GCM first where the CPU has AES instructions): the asyncssh
    contenders offer the same, so that they stay the floor sshpool's figures are read against."""
    from sshpool.core.link import cipher_preference

    prefs = cipher_preference()
    return {} if prefs is None else {"encryption_algs": list(prefs)}


def output_command(size: int) -> str:
    """``size`` bytes of stdout in 1 KiB lines, like a long log (JSON carries them one byte each;
    line-oriented readers such as parallel-ssh's see ordinary lines)."""
    return f"yes \"$(head -c 1023 /dev/zero | tr '\\0' x)\" | head -c {int(size)}"


@dataclass
class Tally:
    """Per-command times in seconds, and the failures (never hidden: they are reported)."""

    times: list[float] = field(default_factory=list)
    failures: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, why: object) -> None:
        self.failures += 1
        if len(self.errors) < 3:
            self.errors.append(str(why)[:300] or type(why).__name__)

    def check(self, started: float, stdout: bytes | str | None, exit_code: int | None, want: bytes) -> None:
        """Record the time of one command if it gave ``want`` and exit 0, else a failure."""
        elapsed = time.perf_counter() - started
        out = stdout.encode() if isinstance(stdout, str) else (stdout or b"")
        if exit_code == 0 and out == want:
            self.times.append(elapsed)
        else:
            self.fail(f"exit {exit_code}, stdout {out[:80]!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"times": self.times, "failures": self.failures, "errors": self.errors}


def timed_loop(n: int, one: Callable[[], tuple[bytes | str | None, int | None]], want: bytes = ECHO_OUT) -> Tally:
    """Run ``one`` ``n`` times in sequence; any exception is a failed command, not a crash."""
    tally = Tally()
    for _ in range(n):
        started = time.perf_counter()
        try:
            out, code = one()
        except Exception as exc:  # a peer's failure is a measured outcome
            tally.fail(exc)
            continue
        tally.check(started, out, code, want)
    return tally


def footprint(n: int, before: tuple[int, int], after: tuple[int, int]) -> dict[str, Any]:
    return {
        "n": n,
        "rss_per": (after[0] - before[0]) / max(n, 1),
        "fds_per": (after[1] - before[1]) / max(n, 1),
    }


def own_usage() -> tuple[int, int]:
    """This process's RSS and open descriptors, after a collection so garbage does not count."""
    gc.collect()
    pid = os.getpid()
    return rss_bytes(pid), fd_count(pid)


def burst_result(elapsed: float, ok: int, tally: Tally) -> dict[str, Any]:
    return {"elapsed": elapsed, "ok": ok, "failed": tally.failures, "errors": tally.errors}
