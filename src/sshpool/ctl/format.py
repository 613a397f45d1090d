"""What sshpoolctl prints: status tables, one-line error messages and exit statuses.

Pure functions of the daemon's answers, so the shell and the one-shot commands print the same
text and tests can check it without a terminal.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Mapping
from typing import Any

from sshpool.errors import DaemonUnavailableError, SSHPoolError
from sshpool.result import Result

__all__ = [
    "EXIT_ERROR",
    "EXIT_TIMEOUT",
    "error_line",
    "exit_status",
    "fanout_status",
    "fingerprint_in",
    "human_uptime",
    "result_note",
    "shown_state",
    "status_lines",
    "status_table",
    "tab_table",
]

#: ssh's rule: every local or daemon-side error.
EXIT_ERROR = 255
#: timeout(1)'s status for a command stopped at its deadline.
EXIT_TIMEOUT = 124
_TAB = 8
_FINGERPRINT = re.compile(r"(?:(ssh-[a-z0-9-]+|ecdsa-[a-z0-9-]+|rsa-[a-z0-9-]+) )?(SHA256:[A-Za-z0-9+/=]+)")


def shown_state(state: str) -> str:
    """The classic three words: running, reconnecting, dead."""
    if state == "up":
        return "running"
    if state in ("connecting", "reconnecting"):
        return "reconnecting"
    return "dead"


def tab_table(rows: list[list[str]], minimum: tuple[int, ...] = ()) -> list[str]:
    """Columns separated by tabs and aligned on 8-column tab stops (the classic shell printed tabs; padding
    short cells with extra tabs lines the columns up on any terminal). The last column is free;
    ``minimum`` gives columns a least width."""
    if not rows:
        return []
    ncols = max(len(r) for r in rows)
    widths = [max((len(r[i]) for r in rows if i < len(r)), default=0) for i in range(ncols - 1)]
    widths = [max(w, minimum[i] if i < len(minimum) else 0) for i, w in enumerate(widths)]
    stops = [(w // _TAB + 1) * _TAB for w in widths]
    lines = []
    for row in rows:
        parts = []
        for i, cell in enumerate(row):
            if i < len(row) - 1:
                pos, tabs = len(cell), 0
                while pos < stops[i]:
                    pos = (pos // _TAB + 1) * _TAB
                    tabs += 1
                parts.append(cell + "\t" * tabs)
            else:
                parts.append(cell)
        lines.append("".join(parts))
    return lines


def _target(info: Mapping[str, Any]) -> str:
    return f"{info.get('user')}:{info.get('pass')}@{info.get('host')}:{info.get('port')}"


def status_lines(channels: Mapping[str, Mapping[str, Any]], now: float | None = None) -> list[str]:
    """``alias  user:pass@host:port  STATE  UPTIME`` per channel, sorted by alias; a dead channel's
    last error follows. ``pass`` is the daemon's mask (None or ****), never a password."""
    now = time.time() if now is None else now
    rows = []
    for alias in sorted(channels, key=str.casefold):
        info = channels[alias]
        state = shown_state(str(info.get("state", "up" if info.get("is_alive") else "failed")))
        uptime = str(max(0, int(now - float(info.get("start_time") or now))))
        row = [alias, _target(info), state, uptime]
        if state != "running" and info.get("last_error"):
            row.append(str(info["last_error"]))
        rows.append(row)
    # The error column follows the uptime; only the first four columns are aligned. Aliases get
    # two tab stops at least, as the classic shell's did.
    lines = tab_table([r[:4] for r in rows], minimum=(8,))
    return [line + (f"\t{r[4]}" if len(r) > 4 else "") for line, r in zip(lines, rows, strict=True)]


def status_table(channels: Mapping[str, Mapping[str, Any]], now: float | None = None) -> list[str]:
    """``status`` for a person at a terminal: a header, columns aligned with spaces, the uptime as
    ``2h03m``, and a LAST ERROR column when a channel has one. Scripts (stdout not a terminal) and
    the shell get :func:`status_lines`, the classic layout."""
    now = time.time() if now is None else now
    rows = []
    for alias in sorted(channels, key=str.casefold):
        info = channels[alias]
        state = shown_state(str(info.get("state", "up" if info.get("is_alive") else "failed")))
        seconds = max(0, int(now - float(info.get("start_time") or now)))
        error = str(info["last_error"]) if state != "running" and info.get("last_error") else ""
        rows.append([alias, _target(info), state, human_uptime(seconds), error])
    if not rows:
        return []
    header = ["ALIAS", "USER:PASS@HOST:PORT", "STATE", "UPTIME", "LAST ERROR"]
    if not any(r[4] for r in rows):
        header, rows = header[:4], [r[:4] for r in rows]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def human_uptime(seconds: int) -> str:
    """``45s``, ``12m05s``, ``2h03m``, ``3d04h``: the two largest units."""
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d{hrs:02d}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


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
    """The highest remote code, or 255 if any channel had a transport error."""
    worst = 0
    for outcome in outcomes.values():
        if isinstance(outcome, SSHPoolError):
            return EXIT_ERROR
        if outcome.error in ("link_lost", "channel_stopped") or outcome.error not in (None, "timeout"):
            return EXIT_ERROR
        worst = max(worst, exit_status(outcome))
    return worst


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
