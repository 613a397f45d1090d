"""What sshpoolctl prints: one-line error messages and exit statuses (and the status tables, from
:mod:`sshpool.ctl.statusview`).

Pure functions of the daemon's answers, so the shell and the one-shot commands print the same
text and tests can check it without a terminal.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping

from sshpool.ctl.say import EXIT_ERROR
from sshpool.ctl.statusview import human_uptime, shown_state, status_lines, status_table, tab_table
from sshpool.errors import DaemonUnavailableError, SkippedError, SSHPoolError
from sshpool.result import Result

__all__ = [
    "EXIT_ERROR",
    "EXIT_TIMEOUT",
    "error_line",
    "exit_status",
    "fanout_status",
    "fanout_summary",
    "fingerprint_in",
    "group_header",
    "human_uptime",
    "result_note",
    "shown_state",
    "status_lines",
    "status_table",
    "tab_table",
]

#: timeout(1)'s status for a command stopped at its deadline.
EXIT_TIMEOUT = 124
_FINGERPRINT = re.compile(r"(?:(ssh-[a-z0-9-]+|ecdsa-[a-z0-9-]+|rsa-[a-z0-9-]+) )?(SHA256:[A-Za-z0-9+/=]+)")


_HINTS: dict[str, str] = {
    "unknown_alias": "see `status` for the channels, or add one with `start <dsn>`",
    "bad_dsn": "the form is alias://user:pass@host:port",
    "auth_failed": "fix the user, password or key, then `stop` the channel and `start` it again",
    "too_large": "send less (a smaller command or input), or raise sshpoold's --body-limit",
    "unauthorized": "",
    "channel_unavailable": "check `status`; the daemon keeps retrying",
}


def error_line(exc: SSHPoolError) -> str:
    """One line: what is wrong and what to do. The daemon's messages mostly say both; a hint is
    added where they name only the problem."""
    text = " ".join(str(exc).split())
    hint = _HINTS.get(exc.code, "")
    if exc.code in ("host_key_unknown", "host_key_changed") and "hostkey accept" not in text and exc.alias:
        hint = f"check the fingerprint, then trust it with `sshpoolctl hostkey accept {exc.alias}`"
    if exc.code == "unknown_alias" and (exc.alias or "").startswith("@"):
        hint = "`status` shows the channels' tags; `tag ALIAS web,prod` gives a channel tags"
    if isinstance(exc, DaemonUnavailableError) or (exc.code == "bad_dsn" and "alias://" in text):
        hint = ""  # the message already says where to look, or what the form is
    if hint and hint not in text:
        text = f"{text} — {hint}"
    return text


def fingerprint_in(text: str | None) -> str | None:
    """``ssh-ed25519 SHA256:...`` from a host-key message, if there is one."""
    if not text:
        return None
    m = _FINGERPRINT.search(text)
    if m is None:
        return None
    return f"{m.group(1)} {m.group(2)}" if m.group(1) else m.group(2)


def _signal_number(name: str) -> int:
    name = name.upper()
    for candidate in (name, "SIG" + name):
        try:
            return int(signal.Signals[candidate])
        except KeyError:
            continue
    return 0


def exit_status(result: Result) -> int:
    """SPEC.md's table: the remote code; 124 timeout; 128+N signal; 255 anything else."""
    if result.timed_out or result.error == "timeout":
        return EXIT_TIMEOUT
    if result.signal:
        number = _signal_number(result.signal)
        return 128 + number if number else EXIT_ERROR
    if result.error is not None or result.exit_code is None:
        return EXIT_ERROR
    return min(result.exit_code, 255)


def fanout_status(outcomes: Mapping[str, Result | SSHPoolError]) -> int:
    """The highest remote code, or 255 if any channel had a transport error. A channel a rolling
    run skipped changes nothing: the failures that halted it give the status."""
    worst = 0
    for outcome in outcomes.values():
        if isinstance(outcome, SkippedError):
            continue
        if isinstance(outcome, SSHPoolError):
            return EXIT_ERROR
        if outcome.error in ("link_lost", "channel_stopped") or outcome.error not in (None, "timeout"):
            return EXIT_ERROR
        worst = max(worst, exit_status(outcome))
    return worst


def fanout_summary(outcomes: Mapping[str, Result | SSHPoolError]) -> str | None:
    """The line after a fan-out that did not all succeed: the channels that failed, then those a
    halt left unstarted (``1 of 12 channels failed: web03; 9 skipped, not started: web04, ...``)."""
    skipped = [a for a, o in outcomes.items() if isinstance(o, SkippedError)]
    failed = [a for a, o in outcomes.items() if a not in skipped and fanout_status({a: o}) != 0]
    parts = [f"{len(failed)} of {len(outcomes)} channels failed: {', '.join(failed)}"] if failed else []
    if skipped:
        parts.append(f"{len(skipped)} skipped, not started: {', '.join(skipped)}")
    return "; ".join(parts) or None


def group_header(folded: str, count: int) -> str:
    """A group's header, as ``clush -b`` prints it: its host list and how many, between rules."""
    rule = "-" * 15
    return f"{rule}\n{folded} ({count})\n{rule}\n"


def result_note(result: Result) -> str | None:
    """The shell's line after a command that did not exit 0: ``[exit N]`` or what happened."""
    if result.timed_out or result.error == "timeout":
        return f"[timed out] {result.exception or 'the command passed its deadline and was stopped'}"
    if result.signal:
        return f"[killed by signal {result.signal}]"
    if result.error is not None:
        return f"[{result.error}] {result.describe()}"
    if result.exit_code not in (0, None):
        return f"[exit {result.exit_code}]"
    return None
