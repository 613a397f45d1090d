"""What the daemon can change while the app runs, shared by the guard, the endpoints and the lifecycle."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sshpool.defaults import Settings

if TYPE_CHECKING:
    from sshpool.daemon.audit import AuditLog
    from sshpool.daemon.store import Store

__all__ = ["FANOUT_LIMIT", "ApiState"]

#: Commands of one POST /run that run at once.
FANOUT_LIMIT = 64


@dataclass
class ApiState:
    """What the daemon can change while the app runs: the token (SIGHUP), readiness, draining."""

    token: str
    settings: Settings
    allowed_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
    check_host: bool = True
    ready: bool = True
    draining: bool = False
    store: Store | None = None
    audit: AuditLog | None = None
    fanout_limit: int = FANOUT_LIMIT
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
