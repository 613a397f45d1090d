"""``sshpoolctl doctor``: how the daemon and its token were found, and whether they answer, which
is what a "not running" or a "refused the token" comes from."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from sshpool.client import AsyncDaemonClient, find_daemon, pid_alive
from sshpool.ctl.format import EXIT_ERROR, error_line
from sshpool.ctl.say import emit_json
from sshpool.defaults import default_state_dir
from sshpool.errors import SSHPoolError

__all__ = ["verb_doctor"]


async def verb_doctor(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    """Each finding with where it came from; 255 when the daemon does not answer or refuses the token."""
    state = default_state_dir()
    state_from = "SSHPOOL_STATE_DIR" if os.environ.get("SSHPOOL_STATE_DIR") else "default"
    source = client.endpoint.source
    if source == "argument":  # sshpoolctl hands the client SSHPOOL_URL's address, or the flags'
        source = "SSHPOOL_URL" if find_daemon().source == "SSHPOOL_URL" else "--host/--port"
    report: dict[str, Any] = {
        "daemon": client.url,
        "daemon_from": source,
        "state_dir": str(state),
        "state_dir_from": state_from,
        "daemon_json": _daemon_json_state(state / "daemon.json"),
        "token_from": client.token_source if client.has_token else f"none: {client.token_source}",
    }
    ok = True
    try:
        health = await client.health()
        report["reachable"] = "yes" if health["alive"] else "answers, but not as a healthy sshpoold"
        report["channels"] = len(await client.status())
        report["token"] = "accepted"  # noqa: S105 (a word, not a secret)
    except SSHPoolError as exc:
        ok = False
        report.setdefault("reachable", "yes" if exc.code != "daemon_unavailable" else "no")
        report["problem"] = error_line(exc)
    if args.json:
        emit_json(report)
    else:
        width = max(len(k) for k in report)
        for key, value in report.items():
            print(f"{key.replace('_', ' '):<{width}}  {value}")
    return 0 if ok else EXIT_ERROR


def _daemon_json_state(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not path.parent.is_dir():
            return f"{path}: none (the state dir does not exist: no sshpoold has run with it)"
        return f"{path}: none (no sshpoold has run with this state dir, or it stopped)"
    except PermissionError:
        return (
            f"{path}: not readable: permission denied (another user's state dir? run sshpoolctl as that "
            "user, or set SSHPOOL_URL and SSHPOOL_TOKEN)"
        )
    except (OSError, ValueError) as exc:
        return f"{path}: unreadable ({exc})"
    if not isinstance(info, dict):
        return f"{path}: not a daemon.json (no JSON object)"
    pid = info.get("pid")
    where = info.get("url") or (f"unix:{info['socket']}" if info.get("socket") else "?")
    alive = pid_alive(pid)
    return f"{path}: pid {pid} on {where}, " + ("running" if alive else "not running (left over)")
