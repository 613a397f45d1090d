"""One alias, one host: a few SSH connections kept warm, a fair queue, and a supervisor that
reconnects with jittered backoff.

State changes happen in plain methods; awaits come after. The supervisor owns the primary link;
extra links (up to ``max_connections``) are opened only while commands queue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncssh

from sshpool.commands import kill_marked
from sshpool.core.hostkeys import HostKeyTrust, KeyCapture
from sshpool.core.link import HandshakeLimiter, open_link
from sshpool.core.modes.exec import NotStarted, OutputBudget, OutputCallback, execute
from sshpool.core.modes.shell import WarmShells, check_mode, wants_shell
from sshpool.core.target import Target, resolve
from sshpool.defaults import UNSET, Settings
from sshpool.dsn import DSN
from sshpool.errors import (
    AuthenticationError,
    ChannelUnavailableError,
    HostKeyError,
    SSHPoolError,
)
from sshpool.inputs import StdinSource, stdin_of
from sshpool.result import Result

__all__ = ["Channel", "ChannelInfo"]

log = logging.getLogger("sshpool")

STATES = ("connecting", "up", "reconnecting", "stopped", "failed")
#: Lost commands remembered for the sweep after a reconnect (a flapping link cannot grow it forever).
_MAX_ORPHANS = 1000


@dataclass(frozen=True)
class ChannelInfo:
    """A snapshot of a channel for status listings; ``password`` is never part of it."""

    alias: str
    user: str
    host: str
    port: int
    has_password: bool
    state: str
    start_time: float
    connected_since: float | None
    last_error: str | None
    last_error_code: str | None
    commands_run: int
    connections: int
    running: int
    queued: int
    dsn_text: str
    mode: str = "exec"

    @property
    def is_alive(self) -> bool:
        return self.state == "up"

    def to_dict(self) -> dict[str, Any]:
        """The classic info shape (``pass`` masked) plus the extra fields."""
        return {
            "user": self.user,
            "pass": "****" if self.has_password else None,
            "host": self.host,
            "port": self.port,
            "is_alive": self.is_alive,
            "start_time": self.start_time,
            "state": self.state,
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
            "connected_since": self.connected_since,
            "commands_run": self.commands_run,
            "connections": self.connections,
            "running": self.running,
            "queued": self.queued,
            "dsn": self.dsn_text,
            "mode": self.mode,
        }


class _Link:
    __slots__ = ("active", "conn", "idle_since", "primary", "reaper", "watcher")

    def __init__(self, conn: asyncssh.SSHClientConnection, primary: bool) -> None:
        self.conn = conn
        self.primary = primary
        self.active = 0
        self.idle_since = time.monotonic()
        self.reaper: asyncio.TimerHandle | None = None
        self.watcher: asyncio.Task[None] | None = None


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
    ) -> None:
        from sshpool.defaults import default_state_dir

        self.dsn = dsn
        self.alias = dsn.alias
        self.settings = settings or Settings()
        self.trust = trust or HostKeyTrust(self.settings.host_key_policy, default_state_dir() / "known_hosts")
        self.limiter = limiter or HandshakeLimiter(self.settings.max_handshakes, self.settings.max_handshakes_total)
        self.budget = budget
        self.forward_agent = forward_agent
        self._on_event = on_event
        self._keepalive_explicit = keepalive_explicit
        self.state = "connecting"
        self.start_time = time.time()
        self.connected_since: float | None = None
        self.last_error: str | None = None
        self.last_error_code: str | None = None
        self.commands_run = 0
        self.reconnects = 0
        self.last_capture: KeyCapture | None = None
        self._links: list[_Link] = []
        self._opening_extra = 0
        self._waiters: collections.OrderedDict[str, collections.deque[asyncio.Future[_Link]]] = (
            collections.OrderedDict()
        )
        self._running: set[asyncio.Task[Any]] = set()
        self._stopped_tasks: set[asyncio.Task[Any]] = set()
        self._background: set[asyncio.Task[None]] = set()
        #: Markers of commands answered ``link_lost``: stopped on the host once the link is back.
        self._orphans: list[str] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._attempt_failed = False
        self.target: Target | None = None
        self.shells = WarmShells(self.settings.connect_timeout)
        self._resolve()

    # ----------------------------------------------------------------- state, sync

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
        return sum(1 for q in self._waiters.values() for f in q if not f.done())

    @property
    def running(self) -> int:
        return sum(link.active for link in self._links)

    def info(self) -> ChannelInfo:
        t = self.target
        return ChannelInfo(
            alias=self.alias,
            user=t.user if t else (self.dsn.user or ""),
            host=self.dsn.host,
            port=t.port if t else (self.dsn.port or 22),
            has_password=self.dsn.password is not None,
            state=self.state,
            start_time=self.start_time,
            connected_since=self.connected_since,
            last_error=self.last_error,
            last_error_code=self.last_error_code,
            commands_run=self.commands_run,
            connections=len(self._links),
            running=self.running,
            queued=self.queued,
            dsn_text=self.display(),
            mode=self.mode,
        )

    @property
    def mode(self) -> str:
        """The DSN's ``?mode=``, else the settings' ``mode``."""
        return self.dsn.mode or self.settings.mode

    def effective_mode(self, mode: str | None, input: object, pty: bool) -> str:
        """The way a command with these options runs: input and a pty always take ``exec``."""
        return "shell" if wants_shell(check_mode(mode or self.mode), input, pty) else "exec"

    def local_ports(self) -> list[int]:
        """Client-side TCP ports of the open connections (to find their sshd processes)."""
        ports = []
        for link in self._links:
            sockname = link.conn.get_extra_info("sockname")
            if sockname:
                ports.append(int(sockname[1]))
        return ports

    def display(self) -> str:
        t = self.target
        return self.dsn.display(user=t.user if t else None, port=t.port if t else None)

    def __repr__(self) -> str:
        return (
            f"<Channel {self.alias} {self.state} {self.display()} | {len(self._links)} connections, "
            f"{self.running} running, {self.queued} queued>"
        )

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self._on_event is not None:
                self._on_event(state, self)

    def _free_link(self) -> _Link | None:
        best: _Link | None = None
        for link in self._links:
            if link.active < self.settings.max_sessions and not link.conn.is_closed():
                if best is None or link.active < best.active:
                    best = link
        return best

    def _grant(self) -> None:
        """Hand free slots to waiters, one client at a time (round robin)."""
        while self._waiters:
            link = self._free_link()
            if link is None:
                return
            client, queue = next(iter(self._waiters.items()))
            while queue and queue[0].done():
                queue.popleft()
            if not queue:
                del self._waiters[client]
                continue
            fut = queue.popleft()
            self._waiters.move_to_end(client)
            if not queue:
                del self._waiters[client]
            link.active += 1
            fut.set_result(link)

    def _fail_waiters(self, exc: SSHPoolError) -> None:
        for queue in self._waiters.values():
            for fut in queue:
                if not fut.done():
                    fut.set_exception(exc)
        self._waiters.clear()

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
            from sshpool.core.hostkeys import fingerprint

            return HostKeyError(msg, alias=self.alias, code=code, fingerprint=fingerprint(fp) if fp else None)
        return ChannelUnavailableError(msg, alias=self.alias)

    # ----------------------------------------------------------------- lifecycle

    async def start(self, wait: float | None = None) -> ChannelInfo:
        """Start the supervisor; wait up to ``wait`` seconds for the first connect attempt."""
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._maintain(), name=f"sshpool:{self.alias}")
        if wait is None or wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._first_attempt.wait()
        return self.info()

    async def _connect_once(self) -> _Link:
        if self.target is None:
            self._resolve()
            if self.target is None:
                raise ChannelUnavailableError(self.last_error or "unresolvable host", alias=self.alias)
        conn, _capture = await open_link(
            self.target,
            trust=self.trust,
            limiter=self.limiter,
            connect_timeout=self.settings.connect_timeout,
            alias=self.alias,
            forward_agent=self.forward_agent,
        )
        try:
            # sshd turns TCP_NODELAY on at a connection's first session: pay for it here.
            async with asyncio.timeout(self.settings.connect_timeout):
                await conn.run("true", stdin=asyncssh.DEVNULL, encoding=None)
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            conn.close()
            raise ChannelUnavailableError(
                f"warm-up on {self.target.where} failed: {exc or type(exc).__name__}", alias=self.alias
            ) from None
        return _Link(conn, primary=False)

    def _add_link(self, link: _Link) -> None:
        self._links.append(link)
        link.watcher = asyncio.get_running_loop().create_task(self._watch(link))
        self._grant()

    async def _watch(self, link: _Link) -> None:
        await link.conn.wait_closed()
        if link in self._links:
            self._links.remove(link)
        if not self._links and self.state == "up":
            self._lost.set()

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        return random.uniform(0, min(s.backoff_max, s.backoff_initial * (2**attempt)))

    async def _maintain(self) -> None:
        attempt = 0
        ever_up = False
        while self.state != "stopped":
            log.info("connecting to %s", self.display())
            try:
                link = await self._connect_once()
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
                if isinstance(exc, HostKeyError):
                    self.last_capture = getattr(exc, "capture", None) or self.last_capture
                hard = isinstance(exc, (AuthenticationError, HostKeyError))
                self._set_state("failed" if hard else ("reconnecting" if ever_up else "connecting"))
                log.warning("failed to connect to %s: %s", self.display(), exc.message)
                self._fail_waiters(self._unavailable())
                delay = self.settings.backoff_max if hard else self._backoff(attempt)
                attempt += 1
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            if self.state == "stopped":
                link.conn.close()
                return
            attempt = 0
            ever_up = True
            self._attempt_failed = False
            self.last_error = None
            self.last_error_code = None
            self.connected_since = time.time()
            self._lost.clear()
            link.primary = True
            self._set_state("up")
            self._add_link(link)
            self._sweep_orphans()
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

    def _lost_command(self, marker: str) -> None:
        """A command whose link died before it ended or could be stopped: stop it now if another
        connection of the channel is up, else once the channel has reconnected."""
        if len(self._orphans) < _MAX_ORPHANS:
            self._orphans.append(marker)
        self._sweep_orphans()

    def _sweep_orphans(self) -> None:
        """Stop what commands answered ``link_lost`` left running: the host kept them going when
        the link died (as sshd does without a terminal), and nobody is waiting for them now.
        Runs on a live connection of the channel; markers it could not reach wait for the next."""
        conn = next((link.conn for link in self._links if not link.conn.is_closed()), None)
        if not self._orphans or conn is None or self.state != "up":
            return
        markers, self._orphans = self._orphans, []
        script = "; ".join(f"( {kill_marked(m)} )" for m in markers)

        async def sweep() -> None:
            try:
                async with asyncio.timeout(self.settings.connect_timeout + 5):
                    await conn.run(script, stdin=asyncssh.DEVNULL, encoding=None)
                log.info("stopped what %d lost command(s) left running on %s", len(markers), self.host)
            except (asyncssh.Error, OSError, TimeoutError) as exc:
                log.info("could not stop the commands lost with the link to %s yet: %s", self.host, exc)
                self._orphans = (markers + self._orphans)[:_MAX_ORPHANS]
                if self.state != "stopped":  # a busy or flapping link: try again shortly
                    asyncio.get_running_loop().call_later(1.0, self._sweep_orphans)

        task = asyncio.get_running_loop().create_task(sweep())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def wake(self) -> None:
        """Skip the current backoff delay (after a host key was accepted, a DSN changed...)."""
        self._wake.set()

    async def _open_extra(self) -> None:
        try:
            link = await self._connect_once()
        except SSHPoolError as exc:
            log.debug("extra connection for %s failed: %s", self.alias, exc)
            return
        finally:
            self._opening_extra -= 1
        if self.state != "up":
            link.conn.close()
            return
        self._add_link(link)

    def _maybe_grow(self) -> None:
        if (
            self.state == "up"
            and self._links
            and self._free_link() is None
            and len(self._links) + self._opening_extra < self.settings.max_connections
        ):
            self._opening_extra += 1
            task = asyncio.get_running_loop().create_task(self._open_extra())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # ----------------------------------------------------------------- commands

    async def _acquire(self, client: str, deadline: float | None) -> _Link:
        if self.state == "stopped":
            raise self._unavailable()
        if not self._waiters:
            link = self._free_link()
            if link is not None:
                link.active += 1
                return link
        if not self._links and (self._attempt_failed or self.state == "failed" or self.target is None):
            raise self._unavailable()
        fut: asyncio.Future[_Link] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(client, collections.deque()).append(fut)
        self._maybe_grow()
        try:
            if deadline is None:
                return await fut
            async with asyncio.timeout_at(deadline):
                return await fut
        except TimeoutError:
            raise ChannelUnavailableError(
                f"no free session on channel {self.alias} ({self.state}) before the deadline; "
                "the command was not started",
                alias=self.alias,
            ) from None
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._release(fut.result())
            else:
                fut.cancel()
            raise

    def _release(self, link: _Link) -> None:
        link.active -= 1
        self._grant()
        if link.active == 0 and not link.primary:
            link.idle_since = time.monotonic()
            if link.reaper is None:
                self._check_idle_later(link, self.settings.idle_connection_timeout)

    def _check_idle_later(self, link: _Link, delay: float) -> None:
        link.reaper = asyncio.get_running_loop().call_later(delay, self._close_if_idle, link)

    def _close_if_idle(self, link: _Link) -> None:
        """An extra connection opened for a burst is closed once the burst is long over, so an idle
        channel holds one connection (and one sshd process) again; a later burst opens new ones.
        One timer per link: it re-arms itself while the link keeps getting work."""
        link.reaper = None
        if link.active or link.primary or link not in self._links:
            return  # the next release arms a new timer
        idle = time.monotonic() - link.idle_since
        if idle < self.settings.idle_connection_timeout:
            self._check_idle_later(link, self.settings.idle_connection_timeout - idle)
            return
        self._links.remove(link)
        log.debug("closing an extra connection of %s, idle for %.0f s", self.alias, idle)
        link.conn.close()

    async def run(
        self,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: float | Any | None = UNSET,
        env: dict[str, str] | None = None,
        raw: bool = False,
        pty: bool = False,
        on_output: OutputCallback | None = None,
        client: str = "",
        mode: str | None = None,
    ) -> Result:
        """Run ``command`` and return its Result; raises only when it never started.
        ``mode`` (``exec`` or ``shell``) overrides the channel's for this command."""
        del raw  # bytes are always kept; ``raw`` matters only to the REST shape
        if timeout is UNSET:
            timeout = self.settings.command_timeout
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + float(timeout)
        data = stdin_of(input)
        use = self.effective_mode(mode, data, pty)
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            for _ in range(3):
                link = await self._acquire(client, deadline)
                try:
                    runner = self.shells.execute if use == "shell" else execute
                    if runner is execute:
                        self.shells.trim(link.conn, self.settings.max_sessions - link.active)
                    marker = uuid.uuid4().hex
                    result = await runner(
                        link.conn,
                        command,
                        marker=marker,
                        unstopped=self._lost_command,
                        input=data,
                        deadline=deadline,
                        env=env,
                        output_limit=self.settings.output_limit,
                        budget=self.budget,
                        on_output=on_output,
                        pty=pty,
                        alias=self.alias,
                        host=self.host,
                        background=self._background,
                    )
                except NotStarted as exc:
                    last = exc
                    if exc.maybe_started:
                        self._lost_command(marker)
                    continue
                finally:
                    self._release(link)
                self.commands_run += 1
                if result.error == "link_lost":
                    self._lost_command(marker)
                return result
            raise ChannelUnavailableError(
                f"channel {self.alias}: {last}; the command was not started", alias=self.alias
            )
        except asyncio.CancelledError:
            if task in self._stopped_tasks:
                task.uncancel()
                return Result(
                    error="channel_stopped",
                    exception=f"channel {self.alias} was stopped during the command; it was signalled",
                    alias=self.alias,
                    command=command,
                )
            raise
        finally:
            self._running.discard(task)
            self._stopped_tasks.discard(task)

    @contextlib.asynccontextmanager
    async def sftp(self, *, timeout: float | None = None, client: str = "") -> AsyncIterator[asyncssh.SFTPClient]:
        """An SFTP session on one of the channel's connections; it holds a session slot. Only a
        failure to open the session is a ChannelUnavailableError: file errors inside the block
        (no such file, permission) reach the caller as they are."""
        loop = asyncio.get_running_loop()
        if timeout is None:
            timeout = self.settings.connect_timeout
        link = await self._acquire(client, loop.time() + timeout)
        try:
            try:
                async with asyncio.timeout(timeout):
                    sftp = await link.conn.start_sftp_client()
            except (asyncssh.Error, OSError) as exc:
                raise ChannelUnavailableError(
                    f"SFTP on channel {self.alias} failed: {exc}; is the sftp subsystem enabled on {self.host}?",
                    alias=self.alias,
                ) from None
            try:
                yield sftp
            finally:
                sftp.exit()
        finally:
            self._release(link)

    async def accept_host_key(self) -> str:
        """Trust the key the host offered at the last refused attempt; returns its fingerprint."""
        from sshpool.core.hostkeys import fingerprint

        capture = self.last_capture
        target = self.target
        if target is None:
            raise self._unavailable()
        if capture is None or capture.offered is None:
            capture = KeyCapture()
            with contextlib.suppress(SSHPoolError):
                conn, capture = await open_link(
                    target,
                    trust=self.trust,
                    limiter=self.limiter,
                    connect_timeout=self.settings.connect_timeout,
                    alias=self.alias,
                    policy="off",
                )
                conn.close()
                capture.offered = conn.get_server_host_key()
        if capture.offered is None:
            raise ChannelUnavailableError(f"could not read the host key of {target.where}", alias=self.alias)
        self.trust.forget(target)
        self.trust.record(target, capture.offered)
        self.wake()
        return fingerprint(capture.offered)

    async def aclose(self, *, drain: float = 0.0) -> None:
        """Stop: running commands get ``drain`` seconds, then are signalled and answered
        ``channel_stopped``; every connection is closed."""
        if self.state == "stopped" and self._supervisor is None:
            return
        if drain > 0 and self._running:
            await asyncio.wait(list(self._running), timeout=drain)
        self._set_state("stopped")
        log.info("closing %s", self.display())
        self._fail_waiters(self._unavailable())
        for task in list(self._running):
            self._stopped_tasks.add(task)
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running), timeout=5)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(BaseException):
                await self._supervisor
            self._supervisor = None
        if self._background:
            await asyncio.wait(list(self._background), timeout=6)
        self.shells.close_all()
        for link in list(self._links):
            link.conn.close()
        for link in list(self._links):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await link.conn.wait_closed()
            if link.watcher is not None:
                link.watcher.cancel()
        self._links.clear()
        self._lost.set()
