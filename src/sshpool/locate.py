"""Where sshpoold is and which token it takes, in the stdlib's cheapest words.

``sshpoolctl`` runs a new process per command, so what it imports before its request is on every
call's clock: this module uses ``os`` and :mod:`sshpool.quickjson` only (no ``pathlib``, ``dataclasses`` or
``urllib``), and both the lean one-shot path and the full client (:mod:`sshpool.client.discovery`,
which wraps these answers in its types) read the state dir through it, so the rules are written once.

The daemon: an explicit URL, ``SSHPOOL_URL``, ``daemon.json`` in the state dir (while its pid
runs), then 127.0.0.1:8877. The token: an explicit one, ``SSHPOOL_TOKEN``, then the state dir's
``token`` file. Each answer says where it came from.
"""

from __future__ import annotations

import os

from sshpool.quickjson import loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["DEFAULT_URL", "Address", "find_address", "find_token", "pid_alive", "read_daemon_json", "state_dir"]

DEFAULT_URL = "http://127.0.0.1:8877"

#: ``(url, socket, source, note)``: the URL (for messages and the Host header), the Unix socket
#: or None, where it was found, and why the default was taken when it was.
Address = tuple[str, "str | None", str, str]


def state_dir(environ: Mapping[str, str] | None = None) -> str:
    """``SSHPOOL_STATE_DIR``, else ``$XDG_STATE_HOME/sshpool``, else ``~/.local/state/sshpool``."""
    env = os.environ if environ is None else environ
    if env.get("SSHPOOL_STATE_DIR"):
        return os.path.expanduser(env["SSHPOOL_STATE_DIR"])
    xdg = env.get("XDG_STATE_HOME")
    base = (
        os.path.expanduser(xdg) if xdg else os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state")
    )
    return os.path.join(base, "sshpool")


def pid_alive(pid: Any) -> bool:
    """``pid`` names a process that runs now (one of another user's counts)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_daemon_json(path: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, str]:
    """``daemon.json`` when it names a daemon that runs (a ``url`` or a ``socket``, its ``pid``
    alive); else None and why not, in words that name the file or its state dir."""
    path = os.fspath(path)
    folder = os.path.dirname(path)
    try:
        with open(path, encoding="utf-8") as f:
            info = loads(f.read())
    except FileNotFoundError:
        if not os.path.isdir(folder):
            return None, f"the state dir {folder} does not exist"
        return None, f"{folder} holds no daemon.json"
    except PermissionError:
        return None, f"{path} is not readable: permission denied (another user's state dir?)"
    except (OSError, ValueError) as exc:
        return None, f"{path} is not readable ({exc})"
    if not isinstance(info, dict) or not any(isinstance(info.get(k), str) for k in ("url", "socket")):
        return None, f"{path} names no address"
    if not pid_alive(info.get("pid")):
        return None, f"{path} names pid {info.get('pid')}, which is not running (left over)"
    return info, ""


def find_address(url: str | None = None, environ: Mapping[str, str] | None = None) -> Address:
    """The argument, else ``SSHPOOL_URL``, else ``daemon.json`` (its pid alive), else 8877. A URL
    that is not a daemon address raises ValueError with the message to show."""
    env = os.environ if environ is None else environ
    if url:
        return given_address(url, "argument")
    if env.get("SSHPOOL_URL"):
        return given_address(env["SSHPOOL_URL"], "SSHPOOL_URL")
    path = os.path.join(state_dir(env), "daemon.json")
    info, note = read_daemon_json(path)
    if info is not None:
        if isinstance(info.get("socket"), str):
            return "http://localhost", info["socket"], path, ""
        return str(info["url"]).rstrip("/"), None, path, ""
    return DEFAULT_URL, None, "default", note


def given_address(url: str, source: str) -> Address:
    """``unix:/path``, ``http(s)://HOST[:PORT]`` or a bare ``HOST:PORT`` (taken as http)."""
    url = url.strip()
    if url.startswith("unix:"):
        return "http://localhost", url[len("unix:") :], source, ""
    if "://" not in url:
        url = "http://" + url
    scheme, _, rest = url.partition("://")
    host, _ = host_port(rest.split("/", 1)[0].rpartition("@")[2])
    if scheme not in ("http", "https") or not host:
        raise ValueError(
            f"{source}: {url!r} is not a daemon address; use http://HOST:PORT, https://HOST:PORT or unix:/path"
        )
    return url.rstrip("/"), None, source, ""


def host_port(netloc: str, default: int = 80) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``host`` as (host, port); ("", 0) for a port that is no number."""
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, colon, port = netloc.rpartition(":")
        if not colon:
            host, port = netloc, ""
    if not port:
        return host, default
    if not port.isdigit() or not 0 < int(port) < 65536:
        return "", 0
    return host, int(port)


def find_token(token: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The token and where it came from: the argument, ``SSHPOOL_TOKEN``, then ``<state dir>/token``."""
    env = os.environ if environ is None else environ
    if token:
        return token, "the token argument"
    if env.get("SSHPOOL_TOKEN"):
        return env["SSHPOOL_TOKEN"].strip(), "SSHPOOL_TOKEN"
    path = os.path.join(state_dir(env), "token")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except (OSError, ValueError):
        return None, f"no SSHPOOL_TOKEN and no readable {path}"
    return (text or None), path
