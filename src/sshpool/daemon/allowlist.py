"""``--allow-hosts``: the networks the API may add channels for.

A DSN's host and its jump hosts are checked by address. Addresses are looked up only when needed:
a literal IP as is, /etc/hosts names from the file, and DNS only when the allow-list reaches beyond
loopback (so a loopback-only daemon never sends a lookup out).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterable

from sshpool.core.target import resolve
from sshpool.defaults import Settings
from sshpool.dsn import DSN
from sshpool.errors import HostNotAllowedError

__all__ = ["Address", "Network", "check_allowed", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(items: Iterable[str]) -> list[Network]:
    """The CIDRs of ``--allow-hosts`` values (each comma-separated); a bad one is named."""
    nets = []
    for item in items:
        for part in item.split(","):
            if part.strip():
                try:
                    nets.append(ipaddress.ip_network(part.strip(), strict=False))
                except ValueError:
                    raise ValueError(
                        f"invalid network {part.strip()!r} in --allow-hosts: use CIDRs like 10.0.0.0/8"
                    ) from None
    return nets


async def check_allowed(dsn: DSN, nets: tuple[Network, ...] | None, settings: Settings) -> None:
    """Raise HostNotAllowedError unless every host the DSN reaches (jump hosts too, as ssh_config
    resolves them) has only addresses inside ``nets``; ``None`` allows any."""
    if nets is None:
        return
    try:
        target = resolve(dsn, settings)
        hosts = [target.host, *(j.host for j in target.jump)]
    except (ValueError, OSError):
        hosts = [dsn.host]
    for host in hosts:
        addrs = await _addresses(host, nets)
        bad = [a for a in addrs if not any(a in n for n in nets)]
        if not addrs or bad:
            raise HostNotAllowedError(
                f"host {host!r} is outside the networks this daemon may connect to "
                f"({', '.join(str(n) for n in nets)}; see --allow-hosts)",
                alias=dsn.alias,
            )


async def _addresses(host: str, nets: tuple[Network, ...]) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        pass
    from_file = _etc_hosts().get(host.lower())
    if from_file:
        return from_file
    if all(n.is_loopback for n in nets):
        return []
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(5):
            infos = await loop.getaddrinfo(host, None)
    except (OSError, TimeoutError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _etc_hosts() -> dict[str, list[Address]]:
    table: dict[str, list[Address]] = {"localhost": [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]}
    with contextlib.suppress(OSError):
        with open("/etc/hosts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split("#", 1)[0].split()
                if len(parts) < 2:
                    continue
                try:
                    addr = ipaddress.ip_address(parts[0])
                except ValueError:
                    continue
                for name in parts[1:]:
                    table.setdefault(name.lower(), []).append(addr)
    return table
