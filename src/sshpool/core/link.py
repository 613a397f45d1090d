"""Opening one SSH connection to a resolved Target, hops included, and naming what went wrong.

Every hop gets the target's host-key policy, keepalive and connect timeout. Handshakes are
limited per host and overall, because a login storm past sshd's MaxStartups loses connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import asyncssh
from asyncssh.encryption import get_default_encryption_algs

from sshpool.core.background import Background
from sshpool.core.hostkeys import HostKeyTrust, KeyCapture
from sshpool.core.linkerrors import unavailable
from sshpool.core.target import Target
from sshpool.errors import AuthenticationError, ChannelUnavailableError, SSHPoolError

__all__ = ["HandshakeLimiter", "LinkOptions", "cipher_preference", "open_link", "open_warm_link", "read_host_key"]

#: The tasks that close a connection's jump hosts once it has closed.
_HOPS = Background()


@functools.cache
def cipher_preference() -> tuple[str, ...] | None:
    """asyncssh's ciphers with AES-GCM moved ahead of chacha20-poly1305 when this CPU has AES
    instructions, else None (asyncssh's own order). asyncssh sets up chacha20 per packet in Python:
    with AES-GCM a warm command costs the client ~0.5 ms less CPU and ~0.6 ms less time on loopback
    (measured: 1.6 vs 1.0 ms of CPU per ``echo hi``), and a big output arrives ~30 % sooner. Both
    are AEAD ciphers OpenSSH offers by default; on CPUs without AES instructions chacha20 is the
    faster and constant-time one, so it stays first there. Nothing is removed from the offer, and
    a ``Ciphers`` line in ssh_config for the host replaces it."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = {
                word for line in f if line.startswith(("flags", "Features")) for word in line.partition(":")[2].split()
            }
    except OSError:
        return None
    if "aes" not in flags:
        return None
    algs = [a.decode() for a in get_default_encryption_algs()]
    gcm = [a for a in algs if "-gcm@" in a]
    return tuple(gcm + [a for a in algs if a not in gcm]) if gcm else None


class HandshakeLimiter:
    """At most ``per_host`` handshakes in flight to one host:port and ``total`` overall."""

    def __init__(self, per_host: int, total: int) -> None:
        self.per_host = per_host
        self._total = asyncio.Semaphore(total)
        self._hosts: defaultdict[tuple[str, int], asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )
        self.in_flight = 0

    @contextlib.asynccontextmanager
    async def slot(self, host: str, port: int) -> AsyncIterator[None]:
        async with self._hosts[(host, port)], self._total:
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1


@dataclass(frozen=True)
class LinkOptions:
    """How a channel connects: the same for each of its connections and for every hop of one.
    ``policy`` overrides the trust's host-key policy (``off`` reads a key to accept it)."""

    trust: HostKeyTrust
    limiter: HandshakeLimiter
    connect_timeout: float
    alias: str | None = None
    policy: str | None = None
    forward_agent: bool = False


async def open_link(target: Target, options: LinkOptions) -> tuple[asyncssh.SSHClientConnection, KeyCapture]:
    """Connect to ``target`` (through its jump hosts) and return the connection and what was
    learnt of its host key. Raises AuthenticationError, HostKeyError or ChannelUnavailableError."""
    tunnel: asyncssh.SSHClientConnection | None = None
    opened: list[asyncssh.SSHClientConnection] = []
    hop_options = replace(options, forward_agent=False)  # the agent goes to the target only
    try:
        for hop in target.jump:
            tunnel, _ = await _open_one(hop, hop_options, tunnel=tunnel, via=target)
            opened.append(tunnel)
        conn, capture = await _open_one(target, options, tunnel=tunnel, via=None)
    except BaseException:
        for c in reversed(opened):
            c.close()
        raise
    if opened:
        # Hops live exactly as long as the target connection.
        async def _close_hops() -> None:
            await conn.wait_closed()
            for c in reversed(opened):
                c.close()

        _HOPS.spawn(_close_hops())
    return conn, capture


async def open_warm_link(target: Target, options: LinkOptions) -> asyncssh.SSHClientConnection:
    """:func:`open_link`, then one command run over it: sshd turns TCP_NODELAY on at a
    connection's first session, so the first command of the channel does not pay for it."""
    conn, _capture = await open_link(target, options)
    with unavailable(
        options.alias, lambda exc: f"warm-up on {target.where} failed: {exc or type(exc).__name__}", cleanup=conn.close
    ):
        async with asyncio.timeout(options.connect_timeout):
            await conn.run("true", stdin=asyncssh.DEVNULL, encoding=None)
    return conn


async def read_host_key(target: Target, options: LinkOptions) -> asyncssh.SSHKey | None:
    """The host key ``target`` offers now, read with host-key checking off (to accept it), or
    None when it could not be read."""
    capture = KeyCapture()
    with contextlib.suppress(SSHPoolError):
        conn, capture = await open_link(target, replace(options, policy="off", forward_agent=False))
        conn.close()
        capture.offered = conn.get_server_host_key()
    return capture.offered


async def _open_one(
    target: Target, opts: LinkOptions, *, tunnel: asyncssh.SSHClientConnection | None, via: Target | None
) -> tuple[asyncssh.SSHClientConnection, KeyCapture]:
    capture = KeyCapture()
    hop_note = f" (jump host for {via.where})" if via is not None else ""
    options = _connect_options(target, opts, capture, tunnel)
    async with opts.limiter.slot(target.host, target.port):
        with _connect_errors(target, opts, capture, hop_note):
            async with asyncio.timeout(opts.connect_timeout + 1):
                conn = await asyncssh.connect(target.host, **options)
    if capture.new_key is not None:
        opts.trust.record(target, capture.new_key)
    sock = conn.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn, capture


def _connect_options(
    target: Target, opts: LinkOptions, capture: KeyCapture, tunnel: asyncssh.SSHClientConnection | None
) -> dict[str, Any]:
    """Keyword arguments for ``asyncssh.connect``: ssh_config is read by us (see target.py), so
    asyncssh gets ``config=[]`` and every setting spelt out."""
    options: dict[str, Any] = dict(
        port=target.port,
        username=target.user,
        config=[],
        connect_timeout=opts.connect_timeout,
        login_timeout=opts.connect_timeout,
        keepalive_interval=target.keepalive_interval,
        keepalive_count_max=target.keepalive_count_max,
        tcp_keepalive=True,
        **opts.trust.connect_options(target, capture, opts.policy),
    )
    if target.ciphers:  # the user's ssh_config decides, as it does for OpenSSH
        options["encryption_algs"] = target.ciphers
    elif (ciphers := cipher_preference()) is not None:
        options["encryption_algs"] = list(ciphers)
    if target.password is not None:
        options["password"] = target.password
    else:
        options["password_auth"] = False
        options["kbdint_auth"] = False
    if target.identity_files:
        options["client_keys"] = [p for p in target.identity_files if _readable(p)] or None
        if target.identities_only:
            options["agent_path"] = None
    if opts.forward_agent or target.forward_agent:
        options["agent_forwarding"] = True
    if tunnel is not None:
        options["tunnel"] = tunnel
    return options


@contextlib.contextmanager
def _connect_errors(target: Target, opts: LinkOptions, capture: KeyCapture, hop_note: str) -> Iterator[None]:
    """What a failed connect means, in sshpool's errors: each says where, and what to check."""
    alias = opts.alias
    try:
        yield
    except asyncssh.HostKeyNotVerifiable:
        raise opts.trust.error(target, capture, alias, hop_note) from None
    except asyncssh.PermissionDenied as exc:
        how = "password" if target.password is not None else "public key (agent, IdentityFile, default keys)"
        raise AuthenticationError(
            f"authentication failed for {target.where}{hop_note} by {how}: {exc.reason}; "
            f"check the user, the key in authorized_keys or the password{_percent_note(target.password)}",
            alias=alias,
        ) from None
    except TimeoutError:
        raise ChannelUnavailableError(
            f"connect to {target.where}{hop_note} timed out after {opts.connect_timeout:g} s "
            "(no SSH banner or handshake in time)",
            alias=alias,
        ) from None
    except asyncssh.DisconnectError as exc:
        raise ChannelUnavailableError(
            f"SSH connection to {target.where}{hop_note} failed: {exc.reason or type(exc).__name__}",
            alias=alias,
        ) from None
    except OSError as exc:
        # The stdlib loop says "Connect call failed ('127.0.0.1', 22)" where uvloop says "Connection refused".
        said = os.strerror(exc.errno) if isinstance(exc, ConnectionError) and exc.errno else exc.strerror
        reason = said or str(exc) or type(exc).__name__
        raise ChannelUnavailableError(f"cannot connect to {target.where}{hop_note}: {reason}", alias=alias) from None
    except (ValueError, asyncssh.KeyImportError) as exc:
        raise ChannelUnavailableError(f"cannot connect to {target.where}{hop_note}: {exc}", alias=alias) from None


_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _percent_note(password: str | None) -> str:
    """A refused password that holds a ``%`` starting no ``%XX`` escape was taken as typed (as
    unquote does); if an escape was meant, that is the likely cause. The password is never shown."""
    if password is None or not _LONE_PERCENT.search(password):
        return ""
    return (
        "; the password holds a '%' that starts no %XX escape, so it was used as typed: in a DSN a '%' "
        "itself is written %25, and @ : / ? # are percent-encoded (%40 %3A %2F %3F %23)"
    )


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False
