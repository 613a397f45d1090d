"""The ``status`` tables: the classic tab layout for scripts and the shell, a header and aligned
columns for a person at a terminal.

Pure functions of the daemon's channel info, importing ``time`` only: ``sshpoolctl status`` is
one of the verbs a script calls in a loop, on the lean path (:mod:`sshpool.ctl.lean`).
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["human_uptime", "shown_state", "status_lines", "status_table", "tab_table"]

_TAB = 8


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


def _tags(info: Mapping[str, Any]) -> str:
    return ",".join(str(t) for t in info.get("tags") or ())


def status_lines(channels: Mapping[str, Mapping[str, Any]], now: float | None = None) -> list[str]:
    """``alias  user:pass@host:port  STATE  UPTIME`` per channel, sorted by alias; a tagged
    channel's ``tags=web,prod`` and a dead channel's last error follow. ``pass`` is the daemon's
    mask (None or ****), never a password."""
    now = time.time() if now is None else now
    rows = []
    for alias in sorted(channels, key=str.casefold):
        info = channels[alias]
        state = shown_state(str(info.get("state", "up" if info.get("is_alive") else "failed")))
        uptime = str(max(0, int(now - float(info.get("start_time") or now))))
        row = [alias, _target(info), state, uptime]
        if _tags(info):
            row.append(f"tags={_tags(info)}")
        if state != "running" and info.get("last_error"):
            row.append(str(info["last_error"]))
        rows.append(row)
    # The tags and the error follow the uptime; only the first four columns are aligned. Aliases
    # get two tab stops at least, as the classic shell's did.
    lines = tab_table([r[:4] for r in rows], minimum=(8,))
    return ["\t".join([line, *r[4:]]) for line, r in zip(lines, rows, strict=True)]


def status_table(channels: Mapping[str, Mapping[str, Any]], now: float | None = None) -> list[str]:
    """``status`` for a person at a terminal: a header, columns aligned with spaces, the uptime as
    ``2h03m``, and TAGS and LAST ERROR columns when a channel has some. Scripts (stdout not a terminal) and
    the shell get :func:`status_lines`, the classic layout."""
    now = time.time() if now is None else now
    rows = []
    for alias in sorted(channels, key=str.casefold):
        info = channels[alias]
        state = shown_state(str(info.get("state", "up" if info.get("is_alive") else "failed")))
        seconds = max(0, int(now - float(info.get("start_time") or now)))
        error = str(info["last_error"]) if state != "running" and info.get("last_error") else ""
        rows.append([alias, _target(info), state, human_uptime(seconds), _tags(info), error])
    if not rows:
        return []
    header = ["ALIAS", "USER:PASS@HOST:PORT", "STATE", "UPTIME", "TAGS", "LAST ERROR"]
    # The TAGS and LAST ERROR columns only when a channel has some.
    keep = [i for i in range(len(header)) if i < 4 or any(r[i] for r in rows)]
    header, rows = [header[i] for i in keep], [[r[i] for i in keep] for r in rows]
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
