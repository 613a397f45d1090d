"""Host-key trust: ``strict``, ``accept-new`` and ``off``, checked before any secret is sent.

asyncssh drops the config's UserKnownHostsFile as soon as ``known_hosts=`` is passed, and it has no
accept-new. So the known keys are looked up here (the config's files, the global ones and
sshpool's own file) and handed to asyncssh as a matching function; keys it does not trust reach
``validate_host_public_key`` of our client class, which tells an unknown key from a changed one and,
under accept-new, lets an unknown key through to be recorded once the connection succeeds.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from sshpool.core.target import Target
from sshpool.defaults import HOST_KEY_POLICIES
from sshpool.errors import HostKeyError

__all__ = ["HostKeyRefused", "HostKeyTrust", "KeyAdvice", "KeyCapture", "fingerprint"]

log = logging.getLogger("sshpool")
_write_lock = threading.Lock()


def fingerprint(key: asyncssh.SSHKey) -> str:
    return str(key.get_fingerprint("sha256"))


class KeyCapture:
    """What one connection attempt learnt about the server's key."""

    def __init__(self) -> None:
        self.offered: asyncssh.SSHKey | None = None
        self.known_any = False
        self.new_key: asyncssh.SSHKey | None = None


@dataclass(frozen=True)
class KeyAdvice:
    """What a refused key's error tells its reader to do, in the words of the face they use:
    ``accept`` trusts the key the channel offers now (``{alias}`` is the channel's; None when
    there is no such step, as for a connection that was never made), ``policy`` chooses
    accept-new. The core's own words name its own API; sshpoold and a direct connection bring
    theirs (``Pool(host_key_advice=...)``)."""

    accept: str | None = "pool.accept_host_key({alias!r})"
    policy: str = "Pool(host_key_policy='accept-new')"


class HostKeyRefused(HostKeyError):
    """A HostKeyError that keeps what the refused attempt learnt of the key, so that the channel
    can accept that very key later (``Pool.accept_host_key``)."""

    def __init__(
        self,
        message: str,
        *,
        capture: KeyCapture,
        alias: str | None = None,
        code: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        super().__init__(message, alias=alias, code=code, fingerprint=fingerprint)
        self.capture = capture


class HostKeyTrust:
    """One policy plus sshpool's own known_hosts file, shared by every channel of a pool."""

    def __init__(self, policy: str, own_file: Path, advice: KeyAdvice | None = None) -> None:
        if policy not in HOST_KEY_POLICIES:
            raise ValueError(f"unknown host-key policy {policy!r}: use strict, accept-new or off")
        self.policy = policy
        self.own_file = own_file
        self.advice = advice or KeyAdvice()

    def files(self, target: Target) -> list[str]:
        paths = [*target.known_hosts_files, str(self.own_file)]
        return [p for p in paths if os.path.isfile(p) and os.access(p, os.R_OK)]

    def connect_options(self, target: Target, capture: KeyCapture, policy: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect`` that apply the policy to ``target``."""
        policy = policy or self.policy
        if policy == "off":
            log.warning("host-key checking is off for %s: the server's identity is not verified", target.where)
            return {"known_hosts": None, "client_factory": _client_factory(capture, policy)}
        files = self.files(target)

        def match(host: str, addr: str, port: int | None) -> tuple[list[Any], list[Any], list[Any]]:
            keys: list[Any] = []
            cas: list[Any] = []
            revoked: list[Any] = []
            if files:
                lookup_host = target.host_key_alias or host
                found = asyncssh.match_known_hosts(files, lookup_host, addr, port)
                keys, cas, revoked = list(found[0]), list(found[1]), list(found[2])
            capture.known_any = bool(keys or cas)
            return keys, cas, revoked

        return {"known_hosts": match, "client_factory": _client_factory(capture, policy)}

    def error(self, target: Target, capture: KeyCapture, alias: str | None = None, note: str = "") -> HostKeyRefused:
        """The error for a refused key: what it is, and the ways to trust it that :attr:`advice`
        gives, or ``ssh-keyscan``."""
        key = capture.offered
        kind = key.get_algorithm() if key is not None else "unknown type"
        fp = fingerprint(key) if key is not None else "unknown"
        where = f"{target.host} port {target.port}{note}"
        accept = self.advice.accept.format(alias=alias or "ALIAS") if self.advice.accept else None
        policy = self.advice.policy
        if capture.known_any:
            name = target.known_hosts_name
            remove = f"ssh-keygen -R '{name}'"
            if self._records(name):
                remove += f" (and ssh-keygen -R '{name}' -f {self.own_file})"
            then = f"accept the new one with `{accept}`" if accept else f"connect again with {policy} to record it"
            return HostKeyRefused(
                f"host key for {where} has CHANGED ({kind} {fp}): it does not match known_hosts; "
                f"this may be an attack. If the host was reinstalled, remove the old key ({remove}) and {then}",
                alias=alias,
                code="host_key_changed",
                fingerprint=fp,
                capture=capture,
            )
        scan = f"`ssh-keyscan -p {target.port} -t {kind} {target.host} >> ~/.ssh/known_hosts`"
        ways = [f"`{accept}`", scan, f"use {policy}"] if accept else [f"connect with {policy}", scan]
        how = f"accept it with {ways[0]}" if accept else ways[0]
        return HostKeyRefused(
            f"host key for {where} is unknown ({kind} {fp}); check the fingerprint, then {how}, "
            f"or {', or '.join(ways[1:])}",
            alias=alias,
            code="host_key_unknown",
            fingerprint=fp,
            capture=capture,
        )

    def _records(self, name: str) -> bool:
        """sshpool's own file holds a key for ``name`` (accept-new wrote it)."""
        try:
            lines = self.own_file.read_text().splitlines()
        except OSError:
            return False
        return any(line.split(" ", 1)[0] == name for line in lines)

    def record(self, target: Target, key: asyncssh.SSHKey) -> None:
        """Append ``key`` to sshpool's own known_hosts (0600), once."""
        line = f"{target.known_hosts_name} {key.export_public_key().decode().strip()}\n"
        with _write_lock:
            self.own_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            existing = self.own_file.read_text() if self.own_file.exists() else ""
            if line in existing:
                return
            fd = os.open(self.own_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        log.info("recorded host key %s %s for %s", key.get_algorithm(), fingerprint(key), target.known_hosts_name)

    def accept(self, target: Target, key: asyncssh.SSHKey) -> None:
        """Trust ``key`` for ``target`` from now on, in place of any key recorded for it before."""
        self.forget(target)
        self.record(target, key)

    def forget(self, target: Target) -> None:
        """Drop sshpool's own entries for ``target`` (before accepting a changed key)."""
        if not self.own_file.exists():
            return
        with _write_lock:
            keep = [
                line
                for line in self.own_file.read_text().splitlines(keepends=True)
                if line.split(" ", 1)[0] != target.known_hosts_name
            ]
            tmp = self.own_file.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.writelines(keep)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.own_file)


def _client_factory(capture: KeyCapture, policy: str) -> Callable[[], asyncssh.SSHClient]:
    class _Client(asyncssh.SSHClient):
        def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
            capture.offered = key
            if capture.known_any:
                return False  # a changed key is refused under every policy but off
            if policy == "accept-new":
                capture.new_key = key
                return True
            return policy == "off"

    return _Client
