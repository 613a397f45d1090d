"""One alias, one host: a few SSH connections kept warm, a fair queue, and a supervisor that
reconnects with jittered backoff.

State changes happen in plain methods; awaits come after. The supervisor owns the primary link;
extra links (up to ``max_connections``) are opened only while commands queue (:mod:`.slots`), and
commands lost with a link are stopped once the channel is back (:mod:`.orphans`). How one command
runs on a link is the run mode's business (:mod:`.modes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import asyncssh

from sshpool.core.background import Background
from sshpool.core.hostkeys import HostKeyRefused, HostKeyTrust, KeyCapture, fingerprint
from sshpool.core.inflight import InFlight
from sshpool.core.info import STATES, ChannelInfo
from sshpool.core.link import HandshakeLimiter, LinkOptions, open_warm_link, read_host_key
from sshpool.core.linkerrors import unavailable
from sshpool.core.modes import Command, OutputCallback, RunMode, check_mode, wants_shell
from sshpool.core.modes.base import NotStarted, OutputBudget
from sshpool.core.modes.exec import ExecMode
from sshpool.core.modes.shell import WarmShells
from sshpool.core.orphans import Orphans
from sshpool.core.slots import Link, Slots
from sshpool.core.target import Target, resolve
from sshpool.defaults import UNSET, Settings, Timeout, Unset, default_state_dir
from sshpool.dsn import DSN
from sshpool.errors import AuthenticationError, ChannelUnavailableError, HostKeyError, SSHPoolError
from sshpool.inputs import StdinSource, stdin_of
from sshpool.result import Result

__all__ = ["STATES", "Channel", "ChannelInfo"]

log = logging.getLogger("sshpool")


class Channel:
    """A named, self-healing SSH channel. Create through :class:`sshpool.Pool` (or directly,
    then ``await channel.start()``)."""

    def __init__(
        self,
        dsn: DSN,
        *,
        settings: Settings | None = None,
        trust: HostKeyTrust | None = None,
        limiter: HandshakeLimiter | None = None,
        budget: OutputBudget | None = None,
        keepalive_explicit: bool = False,
        forward_agent: bool = False,
        on_event: Callable[[str, Channel], None] | None = None,
        failures_raised: bool = False,
    ) -> None:
        """``failures_raised``: whoever starts the channel raises its connect failures to its
        caller (a direct ``connect()``), so until the first success they are logged at DEBUG only."""
        self.dsn = dsn
        self.alias = dsn.alias
        self.settings = settings or Settings()
        self.trust = trust or HostKeyTrust(self.settings.host_key_policy, default_state_dir() / "known_hosts")
        self.limiter = limiter or HandshakeLimiter(self.settings.max_handshakes, self.settings.max_handshakes_total)
        self.budget = budget
        self.forward_agent = forward_agent
        self._on_event = on_event
        self._keepalive_explicit = keepalive_explicit
        self.failures_raised = failures_raised
        self.state = "connecting"
        self.start_time = time.time()
        self.connected_since: float | None = None
        self.last_error: str | None = None
        self.last_error_code: str | None = None
        self.commands_run = 0
        self.reconnects = 0
        self.last_capture: KeyCapture | None = None
        self._inflight = InFlight()
        self._background = Background()
        self._supervisor: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._attempt_failed = False
        self.target: Target | None = None
        self.slots = Slots(
            self, self.settings, background=self._background, connect=self._connect_once, on_empty=self._lost.set
        )
        self.orphans = Orphans(self, self.slots, timeout=self.settings.connect_timeout + 5, background=self._background)
        self.exec = ExecMode(self._background)
        self.shells = WarmShells(self.settings.connect_timeout, self._background)
        self._resolve()

    def _resolve(self) -> None:
        s = self.settings
        try:
            self.target = resolve(
                self.dsn,
                s,
                keepalive_interval=s.keepalive_interval if self._keepalive_explicit else None,
                keepalive_count_max=s.keepalive_count_max if self._keepalive_explicit else None,
            )
        except (ValueError, OSError) as exc:
            self.target = None
            self.last_error = f"cannot read the ssh configuration for {self.dsn.host}: {exc}"
            self.last_error_code = "channel_unavailable"

    @property
    def host(self) -> str:
        return self.target.host if self.target else self.dsn.host

    @property
    def queued(self) -> int:
        return self.slots.queued

    @property
    def running(self) -> int:
        return self.slots.running

    @property
    def _links(self) -> list[Link]:
        """The open links (the tests reach their connections through it)."""
        return self.slots.links

    def info(self) -> ChannelInfo:
        return ChannelInfo.of(self)

    @property
    def mode(self) -> str:
        """The DSN's ``?mode=``, else the settings' ``mode``."""
        return self.dsn.mode or self.settings.mode

    def effective_mode(self, mode: str | None, input: object, pty: bool) -> str:
        """The way a command with these options runs: input and a pty always take ``exec``."""
        return "shell" if wants_shell(check_mode(mode or self.mode), input, pty) else "exec"

    def local_ports(self) -> list[int]:
        """Client-side TCP ports of the open connections (to find their sshd processes)."""
        return self.slots.local_ports()

    def display(self) -> str:
        t = self.target
        return self.dsn.display(user=t.user if t else None, port=t.port if t else None)

    def __repr__(self) -> str:
        links = len(self.slots.links)
        return f"<Channel {self.alias} {self.state} {self.display()} | {links} connections, {self.running} running, {self.queued} queued>"  # noqa: E501

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self._on_event is not None:
                self._on_event(state, self)

    def _unavailable(self) -> SSHPoolError:
        if self.state == "stopped":
            return ChannelUnavailableError(f"channel {self.alias} is stopped", alias=self.alias)
        code = self.last_error_code
        why = self.last_error or "not connected yet"
        msg = f"channel {self.alias} is {self.state}: {why}; the command was not started"
        if code == "auth_failed":
            return AuthenticationError(msg, alias=self.alias)
        if code in ("host_key_unknown", "host_key_changed"):
            fp = self.last_capture.offered if self.last_capture else None
            return HostKeyError(msg, alias=self.alias, code=code, fingerprint=fingerprint(fp) if fp else None)
        return ChannelUnavailableError(msg, alias=self.alias)

    def _link_options(self) -> LinkOptions:
        return LinkOptions(
            trust=self.trust,
            limiter=self.limiter,
            connect_timeout=self.settings.connect_timeout,
            alias=self.alias,
            forward_agent=self.forward_agent,
        )

    async def start(self, wait: float | None = None) -> ChannelInfo:
        """Start the supervisor; wait up to ``wait`` seconds for the first connect attempt."""
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._maintain(), name=f"sshpool:{self.alias}")
        if wait is None or wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._first_attempt.wait()
        return self.info()

    async def _connect_once(self) -> asyncssh.SSHClientConnection:
        if self.target is None:
            self._resolve()
            if self.target is None:
                raise ChannelUnavailableError(self.last_error or "unresolvable host", alias=self.alias)
        return await open_warm_link(self.target, self._link_options())

    async def _maintain(self) -> None:
        attempt = 0
        ever_up = False
        while self.state != "stopped":
            log.info("connecting to %s", self.display())
            try:
                conn = await self._connect_once()
            except SSHPoolError as exc:
                if self.state == "stopped":
                    # Closed during the attempt. Python 3.11's wait_for (inside asyncssh.connect)
                    # can swallow the cancel when the connect fails in the same instant: leave
                    # now, or the channel revives itself and shutdown waits on it forever.
                    return
                self.last_error = exc.message
                self.last_error_code = exc.code
                self._attempt_failed = True
                self._first_attempt.set()
                if isinstance(exc, HostKeyRefused):
                    self.last_capture = exc.capture
                hard = isinstance(exc, (AuthenticationError, HostKeyError))
                self._set_state("failed" if hard else ("reconnecting" if ever_up else "connecting"))
                level = logging.DEBUG if self.failures_raised and not ever_up else logging.WARNING
                log.log(level, "failed to connect to %s: %s", self.display(), exc.message)
                self.slots.fail_waiters(self._unavailable())
                s = self.settings
                delay = s.backoff_max if hard else random.uniform(0, min(s.backoff_max, s.backoff_initial * 2**attempt))
                attempt += 1
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            if self.state == "stopped":
                conn.close()
                return
            attempt = 0
            ever_up = True
            self._attempt_failed = False
            self.last_error = None
            self.last_error_code = None
            self.connected_since = time.time()
            self._lost.clear()
            self._set_state("up")
            self.slots.add(Link(conn, primary=True))
            self.orphans.sweep()
            self._first_attempt.set()
            log.info("connected to %s", self.display())
            await self._lost.wait()
            if self.state == "stopped":
                return
            self.reconnects += 1
            self.connected_since = None
            self.last_error = f"link to {self.host} lost"
            self._set_state("reconnecting")
            log.warning("reconnecting to %s: link lost", self.display())

    def wake(self) -> None:
        """Skip the current backoff delay (after a host key was accepted, a DSN changed...)."""
        self._wake.set()

    async def _acquire(self, client: str, deadline: float | None) -> Link:
        unconnected = not self.slots.links and (self._attempt_failed or self.state == "failed" or self.target is None)
        if self.state == "stopped" or unconnected:
            raise self._unavailable()
        return await self.slots.acquire(client, deadline)

    async def run(
        self,
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
        """Run ``command`` and return its Result; raises only when it never started.
        ``mode`` (``exec`` or ``shell``) overrides the channel's for this command; ``keep_output=False``
        (the caller takes the output from ``on_output``) leaves it out of the Result: totals only."""
        del raw  # bytes are always kept; ``raw`` matters only to the REST shape
        if isinstance(timeout, Unset):
            timeout = self.settings.command_timeout
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + float(timeout)
        data = stdin_of(input)
        runner: RunMode = self.shells if self.effective_mode(mode, data, pty) == "shell" else self.exec
        order = Command(
            text=command,
            output_limit=self.settings.output_limit,
            input=data,
            deadline=deadline,
            env=env,
            pty=pty,
            on_output=on_output,
            keep_output=keep_output,
            budget=self.budget,
            alias=self.alias,
            unstopped=self.orphans.lost,
        )
        with self._inflight.track() as task:
            try:
                return await self._run(runner, order, client)
            except asyncio.CancelledError:
                if not self._inflight.stopped(task):
                    raise
                return Result(
                    error="channel_stopped",
                    exception=f"channel {self.alias} was stopped during the command; it was signalled",
                    alias=self.alias,
                    command=command,
                )

    async def _run(self, runner: RunMode, order: Command, client: str) -> Result:
        """Up to three tries: a command that never started is tried again, on the next free slot."""
        for _ in range(3):
            link = await self._acquire(client, order.deadline)
            this = replace(order, marker=os.urandom(16).hex(), host=self.host)
            try:
                if runner is self.exec:
                    self.shells.trim(link.conn, self.settings.max_sessions - link.active)
                result = await runner.run(link.conn, this)
            except NotStarted as exc:
                last = exc
                if exc.maybe_started:
                    self.orphans.lost(this.marker)
                continue
            finally:
                self.slots.release(link)
            self.commands_run += 1
            if result.error == "link_lost":
                self.orphans.lost(this.marker)
            return result
        raise ChannelUnavailableError(f"channel {self.alias}: {last}; the command was not started", alias=self.alias)

    @contextlib.asynccontextmanager
    async def slot(self, *, timeout: float, client: str = "") -> AsyncIterator[asyncssh.SSHClientConnection]:
        """A session slot on one of the channel's connections, held for the block (SFTP, a terminal)."""
        link = await self._acquire(client, asyncio.get_running_loop().time() + timeout)
        try:
            yield link.conn
        finally:
            self.slots.release(link)

    @contextlib.asynccontextmanager
    async def sftp(self, *, timeout: float | None = None, client: str = "") -> AsyncIterator[asyncssh.SFTPClient]:
        """An SFTP session on one of the channel's connections; it holds a session slot. Only a
        failure to open the session is a ChannelUnavailableError: file errors inside the block
        (no such file, permission) reach the caller as they are."""
        timeout = self.settings.connect_timeout if timeout is None else timeout
        async with self.slot(timeout=timeout, client=client) as conn:
            with unavailable(
                self.alias,
                lambda exc: (
                    f"SFTP on channel {self.alias} failed: {exc}; is the sftp subsystem enabled on {self.host}?"
                ),
            ):
                async with asyncio.timeout(timeout):
                    sftp = await conn.start_sftp_client()
            try:
                yield sftp
            finally:
                sftp.exit()

    async def accept_host_key(self) -> str:
        """Trust the key the host offered at the last refused attempt; returns its fingerprint."""
        capture = self.last_capture
        target = self.target
        if target is None:
            raise self._unavailable()
        offered = capture.offered if capture is not None else None
        if offered is None:
            offered = await read_host_key(target, self._link_options())
        if offered is None:
            raise ChannelUnavailableError(f"could not read the host key of {target.where}", alias=self.alias)
        self.trust.accept(target, offered)
        self.wake()
        return fingerprint(offered)

    async def aclose(self, *, drain: float = 0.0) -> None:
        """Stop: running commands get ``drain`` seconds, then are signalled and answered
        ``channel_stopped``; every connection is closed."""
        if self.state == "stopped" and self._supervisor is None:
            return
        await self._inflight.drain(drain)
        self._set_state("stopped")
        log.info("closing %s", self.display())
        self.slots.fail_waiters(self._unavailable())
        await self._inflight.stop(timeout=5)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(BaseException):
                await self._supervisor
            self._supervisor = None
        await self._background.aclose(timeout=6)
        self.shells.close_all()
        await self.slots.aclose()
        self._lost.set()
