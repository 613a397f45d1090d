"""The pool: channels by alias, sharing one handshake limiter, one output budget and one
host-key trust store."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sshpool.core.background import Background
from sshpool.core.channel import Channel
from sshpool.core.hostkeys import HostKeyTrust, KeyAdvice
from sshpool.core.info import ChannelInfo
from sshpool.core.link import HandshakeLimiter
from sshpool.core.modes import OutputCallback
from sshpool.core.modes.base import OutputBudget
from sshpool.defaults import UNSET, Settings, Timeout, Unset, default_state_dir
from sshpool.dsn import DSN, unique_tags
from sshpool.errors import AliasInUseError, UnknownAliasError
from sshpool.inputs import StdinSource
from sshpool.result import Result

__all__ = ["Pool"]

log = logging.getLogger("sshpool")


class Pool:
    """Persistent SSH channels by alias. Use as ``async with Pool() as pool:``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        state_dir: Path | str | None = None,
        keepalive_explicit: bool = False,
        on_event: Callable[[str, Channel], None] | None = None,
        host_key_advice: KeyAdvice | None = None,
        **overrides: Any,
    ) -> None:
        """``host_key_advice``: how a refused host key's error says to trust it (the default
        names this pool's :meth:`accept_host_key`)."""
        self.settings = (settings or Settings.from_env()).with_(**overrides)
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        self.trust = HostKeyTrust(self.settings.host_key_policy, self.state_dir / "known_hosts", host_key_advice)
        self.limiter = HandshakeLimiter(self.settings.max_handshakes, self.settings.max_handshakes_total)
        self.budget = OutputBudget(self.settings.output_budget)
        self._keepalive_explicit = keepalive_explicit or bool(overrides.get("keepalive_interval"))
        self._on_event = on_event
        self._channels: dict[str, Channel] = {}
        self._retiring = Background()

    def get(self, alias: str) -> Channel:
        try:
            return self._channels[alias.casefold()]
        except KeyError:
            raise UnknownAliasError(alias, [c.alias for c in self._channels.values()]) from None

    def __contains__(self, alias: str) -> bool:
        return alias.casefold() in self._channels

    def __len__(self) -> int:
        return len(self._channels)

    def aliases(self) -> list[str]:
        return sorted((c.alias for c in self._channels.values()), key=str.casefold)

    def tagged(self) -> dict[str, tuple[str, ...]]:
        """Each alias (sorted) with its channel's tags: what a selector (:mod:`sshpool.selectors`) reads."""
        return {c.alias: c.dsn.tags for c in sorted(self._channels.values(), key=lambda c: c.alias.casefold())}

    def status(self) -> dict[str, ChannelInfo]:
        return {c.alias: c.info() for c in sorted(self._channels.values(), key=lambda c: c.alias.casefold())}

    def __repr__(self) -> str:
        states = Counter(c.state for c in self._channels.values())
        parts = ", ".join(f"{n} {s}" for s, n in sorted(states.items(), key=lambda kv: (-kv[1], kv[0])))
        running = sum(c.running for c in self._channels.values())
        n = len(self._channels)
        word = "channel" if n == 1 else "channels"
        return f"<Pool {n} {word}{': ' + parts if parts else ''} | {running} commands running>"

    def add(self, dsn: DSN | str, *, forward_agent: bool = False, failures_raised: bool = False) -> Channel:
        """Register a channel without connecting yet (``start`` does both). ``failures_raised``:
        the caller raises the first connect failures itself, so they are logged at DEBUG only."""
        if isinstance(dsn, str):
            dsn = DSN.parse(dsn)
        if dsn.key in self._channels:
            raise AliasInUseError(
                f"alias {dsn.alias!r} is already in use ({self._channels[dsn.key].display()}); "
                "stop it first or pick another alias",
                alias=dsn.alias,
            )
        channel = Channel(
            dsn,
            settings=self.settings,
            trust=self.trust,
            limiter=self.limiter,
            budget=self.budget,
            keepalive_explicit=self._keepalive_explicit,
            forward_agent=forward_agent,
            on_event=self._on_event,
            failures_raised=failures_raised,
        )
        self._channels[dsn.key] = channel
        return channel

    def _wait(self, wait: Timeout) -> float | None:
        return self.settings.start_wait if isinstance(wait, Unset) else wait

    async def start(
        self, dsn: DSN | str, *, wait: Timeout = UNSET, forward_agent: bool = False, failures_raised: bool = False
    ) -> ChannelInfo:
        """Start a channel; returns after its first connect attempt (or ``wait`` seconds).
        Raises only DSNError and AliasInUseError: connect errors show in the info (and are logged
        as warnings, unless ``failures_raised`` says the caller raises them)."""
        channel = self.add(dsn, forward_agent=forward_agent, failures_raised=failures_raised)
        return await channel.start(self._wait(wait))

    async def start_many(self, dsns: list[DSN | str], *, wait: Timeout = UNSET) -> list[ChannelInfo]:
        channels = [self.add(d) for d in dsns]
        limit = self._wait(wait)
        return list(await asyncio.gather(*(c.start(limit) for c in channels)))

    async def stop(self, alias: str, *, drain: float = 0.0) -> None:
        channel = self.get(alias)
        del self._channels[channel.dsn.key]
        await channel.aclose(drain=drain)

    async def update(self, alias: str, dsn: DSN | str, *, wait: Timeout = UNSET) -> ChannelInfo:
        """Replace a channel's DSN (a new password, port...) keeping its alias and start_time.
        Commands already running finish on the old connections, which close after them."""
        old = self.get(alias)
        if isinstance(dsn, str):
            dsn = DSN.parse(dsn)
        if dsn.key != old.dsn.key:
            raise AliasInUseError(
                f"cannot rename {old.alias!r} to {dsn.alias!r} by an update: stop it and start the new one",
                alias=alias,
            )
        del self._channels[old.dsn.key]
        try:
            channel = self.add(dsn, forward_agent=old.forward_agent, failures_raised=old.failures_raised)
        except BaseException:
            self._channels[old.dsn.key] = old
            raise
        channel.start_time = old.start_time
        self._retiring.spawn(old.aclose(drain=self.settings.drain_timeout))
        return await channel.start(self._wait(wait))

    def retag(self, alias: str, tags: Iterable[str]) -> Channel:
        """Give a channel these tags (checked, once each) in place of its own: only its DSN's
        ``?tags`` changes, so its links, running commands and start_time stay as they are."""
        channel = self.get(alias)
        channel.dsn = channel.dsn.with_(tags=unique_tags(list(tags)))
        return channel

    async def run(
        self,
        alias: str,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: Timeout = UNSET,
        env: dict[str, str] | None = None,
        raw: bool = False,
        pty: bool = False,
        on_output: OutputCallback | None = None,
        client: str = "",
        mode: str | None = None,
        keep_output: bool = True,
    ) -> Result:
        """:meth:`Channel.run` on the channel ``alias``."""
        return await self.get(alias).run(
            command,
            input=input,
            timeout=timeout,
            env=env,
            raw=raw,
            pty=pty,
            on_output=on_output,
            client=client,
            mode=mode,
            keep_output=keep_output,
        )

    async def accept_host_key(self, alias: str) -> str:
        """Trust the key that ``alias``'s host offers now; returns its SHA256 fingerprint."""
        return await self.get(alias).accept_host_key()

    async def aclose(self, *, drain: float = 0.0) -> None:
        channels = list(self._channels.values())
        self._channels.clear()
        await asyncio.gather(
            *(c.aclose(drain=drain) for c in channels), self._retiring.aclose(), return_exceptions=True
        )

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
