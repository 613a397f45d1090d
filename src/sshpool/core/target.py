"""Where and how to connect: a DSN resolved through the user's OpenSSH configuration.

The DSN (and sshpool's flags) win over ``~/.ssh/config``, which wins over ``/etc/ssh/ssh_config``,
which wins over sshpool's defaults: the order OpenSSH itself applies. Resolution is done here, once,
so that ProxyJump hops can be opened by us (with the same host-key policy, keepalive and timeouts)
rather than by asyncssh's own ProxyJump, which skips all three.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from sshpool.core.configfiles import load_client_config
from sshpool.defaults import Settings
from sshpool.dsn import DSN

__all__ = ["Target", "config_paths", "configured_user", "resolve"]

_DEFAULT_USER_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
_DEFAULT_GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


def config_paths() -> list[Path]:
    """The OpenSSH client config files that exist, most specific first."""
    candidates = [Path("~/.ssh/config").expanduser(), Path("/etc/ssh/ssh_config")]
    return [p for p in candidates if p.is_file() and os.access(p, os.R_OK)]


def configured_user(host: str) -> str | None:
    """``User`` that the OpenSSH config files set for ``host``, if they set one."""
    paths = [str(p) for p in config_paths()]
    config = load_client_config(paths, _local_user(), (), host, ())
    user = config.get("User")
    return str(user) if user else None


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME: a container's odd uid
        return str(os.getuid())


@dataclass(frozen=True)
class Target:
    """A fully resolved connection target. ``name`` is what the user typed (a Host alias maybe)."""

    name: str
    host: str
    port: int
    user: str
    password: str | None = field(default=None, repr=False)
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    jump: tuple[Target, ...] = ()
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 3
    known_hosts_files: tuple[str, ...] = ()
    host_key_alias: str | None = None
    forward_agent: bool = False
    ciphers: str | None = None  # the config's Ciphers, OpenSSH syntax (``+``, ``-``, ``^`` work)

    @property
    def where(self) -> str:
        """``user@host:port`` for messages (never a password)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        """The host as it is written in known_hosts: ``host`` or ``[host]:port``."""
        host = self.host_key_alias or self.host
        return host if self.port == 22 else f"[{host}]:{self.port}"


def _split_jump(spec: str) -> list[tuple[str | None, str, int | None]]:
    hops: list[tuple[str | None, str, int | None]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part or part.lower() == "none":
            continue
        if "://" in part:
            part = part.split("://", 1)[1]
        user, at, hostport = part.rpartition("@")
        port: int | None = None
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            if rest.startswith(":"):
                port = int(rest[1:])
        elif ":" in hostport:
            host, _, port_text = hostport.rpartition(":")
            port = int(port_text)
        else:
            host = hostport
        hops.append((user if at else None, host, port))
    return hops


def resolve(
    dsn: DSN,
    settings: Settings,
    *,
    keepalive_interval: float | None = None,
    keepalive_count_max: int | None = None,
    _depth: int = 0,
) -> Target:
    """Resolve ``dsn`` against the config files. ``keepalive_*`` are explicit flags (they beat the
    config); otherwise ServerAlive* from the config beats ``settings``."""
    return _resolve(
        dsn.host,
        dsn.user,
        dsn.port,
        dsn.password,
        settings,
        keepalive_interval,
        keepalive_count_max,
        _depth,
    )


def _resolve(
    name: str,
    user: str | None,
    port: int | None,
    password: str | None,
    settings: Settings,
    keepalive_interval: float | None,
    keepalive_count_max: int | None,
    depth: int,
) -> Target:
    if depth > 8:
        raise ValueError(f"ProxyJump chain for {name} is deeper than 8 hops (a loop?)")
    config = load_client_config(
        [str(p) for p in config_paths()],
        _local_user(),
        user if user is not None else (),
        name,
        port if port is not None else (),
    )

    def get(option: str, default: object = None) -> object:
        return config.get(option, default)

    host = str(get("Hostname", name))
    resolved_port = int(str(get("Port", 22)))
    resolved_user = str(get("User", _local_user()))
    identity = tuple(os.path.expanduser(str(p)) for p in _as_list(get("IdentityFile", [])))
    identities_only = bool(get("IdentitiesOnly", False))
    user_kh = _as_list(get("UserKnownHostsFile", list(_DEFAULT_USER_KNOWN_HOSTS)))
    global_kh = _as_list(get("GlobalKnownHostsFile", list(_DEFAULT_GLOBAL_KNOWN_HOSTS)))
    known = tuple(os.path.expanduser(str(p)) for p in [*user_kh, *global_kh] if str(p).lower() != "none")
    interval = keepalive_interval
    if interval is None:
        interval = float(str(get("ServerAliveInterval", settings.keepalive_interval)))
    count = keepalive_count_max
    if count is None:
        count = int(str(get("ServerAliveCountMax", settings.keepalive_count_max)))
    jumps: list[Target] = []
    proxy_jump = get("ProxyJump")
    if proxy_jump:
        for hop_user, hop_host, hop_port in _split_jump(str(proxy_jump)):
            hop = _resolve(
                hop_host, hop_user, hop_port, None, settings, keepalive_interval, keepalive_count_max, depth + 1
            )
            jumps.extend([*hop.jump, replace(hop, jump=())])
    alias = get("HostKeyAlias")
    return Target(
        name=name,
        host=host,
        port=resolved_port,
        user=resolved_user,
        password=password,
        identity_files=identity,
        identities_only=identities_only,
        jump=tuple(jumps),
        keepalive_interval=interval,
        keepalive_count_max=count,
        known_hosts_files=known,
        host_key_alias=str(alias) if alias else None,
        forward_agent=bool(get("ForwardAgent", False)),
        ciphers=_as_text(get("Ciphers")),
    )


def _as_text(value: object) -> str | None:
    if not value:
        return None
    return ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]
