"""The running ``sshpoold``: pool, store, app and server, and the signal-driven lifecycle.

Startup: lock the state dir (one daemon per state dir, see :mod:`sshpool.daemon.statelock`), load
the token and the stored channels, merge ``--channel`` and ``--config`` into the store, start every
channel without waiting, bind, write ``daemon.json``, tell systemd READY=1. SIGTERM/SIGINT: not
ready at once, new commands get ``shutting_down``, running ones get the drain time, then every
connection closes and the process exits 0. SIGHUP re-reads ``--config`` and the token file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import uvicorn

from sshpool.core.hostkeys import KeyAdvice
from sshpool.core.pool import Pool
from sshpool.daemon.allowlist import parse_networks
from sshpool.daemon.apitoken import TokenFileError, load_token
from sshpool.daemon.app import create_app
from sshpool.daemon.audit import AuditLog
from sshpool.daemon.httpproto import GatheringHttpToolsProtocol
from sshpool.daemon.imports import check_servable, import_at_start
from sshpool.daemon.statelock import StateDirBusy, StateLock
from sshpool.daemon.store import SQLiteStore
from sshpool.defaults import Settings, default_state_dir
from sshpool.dsn import DSN
from sshpool.errors import DSNError

try:
    import uvloop

    _UVLOOP: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
except ImportError:  # Windows
    _UVLOOP = None

__all__ = ["HOST_KEY_ADVICE", "CannotListen", "Daemon", "bind", "check_startup", "read_config", "sd_notify", "serve"]

#: A refused host key's advice, as its readers meet it: in sshpoolctl's errors, `status`, the REST answers.
HOST_KEY_ADVICE = KeyAdvice(accept="sshpoolctl hostkey accept {alias}", policy="sshpoold --host-key-policy accept-new")

log = logging.getLogger("sshpool")


def read_config(path: str) -> list[DSN]:
    """DSNs of a ``--config`` file; a bad line names its file and line number, and an alias on two
    lines (in any case) names both, as neither can be the one meant."""
    dsns = []
    seen: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not text:
            continue
        try:
            dsn = DSN.parse(text)
        except DSNError as exc:
            raise DSNError(f"{path}:{number}: {exc}") from None
        if dsn.key in seen:
            first, alias = seen[dsn.key]
            raise DSNError(
                f"{path}:{number}: the alias {dsn.alias!r} is already on line {first} ({alias!r}); "
                "an alias names one channel (aliases are compared without regard to case): remove or rename one"
            )
        seen[dsn.key] = (number, dsn.alias)
        dsns.append(dsn)
    return dsns


def sd_notify(message: str) -> None:
    """One datagram to systemd's NOTIFY_SOCKET (no dependency), silently nothing without it."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(addr)
        sock.sendall(message.encode())


class CannotListen(Exception):
    """The address cannot be bound: the message names it and says what to do."""


def bind(args: argparse.Namespace) -> socket.socket:
    """The listening socket: ``--socket`` (mode 0600, by the umask) or ``--host``/``--port``;
    :class:`CannotListen` naming the address when it cannot be had."""
    try:
        return _bind(args)
    except OSError as exc:
        host = args.host.strip("[]")
        where = f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"
        where = f"unix:{args.socket}" if args.socket else where
        raise CannotListen(f"cannot listen on {where}: {_why(exc, bool(args.socket))}") from None


def _why(exc: OSError, unix: bool) -> str:
    if exc.errno == errno.EADDRINUSE:
        other = "--socket PATH" if unix else "--port N"
        return f"the address is in use (another sshpoold? `sshpoolctl doctor`, or {other})"
    if exc.errno == errno.EACCES and not unix:
        return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; or --port N)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no interface of this machine has that address (--host)"
    return exc.strerror or str(exc)


def _bind(args: argparse.Namespace) -> socket.socket:
    if args.socket:
        path = Path(args.socket)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(path))
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        return sock
    host = args.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns TCP_NODELAY on only for sockets that say so, and
    # without it every response (headers, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, args.port))
    except OSError:
        sock.close()
        raise
    return sock


def _write_daemon_json(state_dir: Path, info: dict[str, Any]) -> Path:
    path = state_dir / "daemon.json"
    tmp = path.with_name("daemon.json.tmp")
    tmp.write_text(json.dumps(info) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _remove_own_daemon_json(path: Path) -> None:
    """Remove ``daemon.json`` only while it still names this process: the file is how every client
    finds the daemon, and deleting another daemon's would make them all say "not running"."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


class Daemon:
    """The running daemon: pool, store, app and server, and the signal-driven lifecycle."""

    def __init__(
        self, args: argparse.Namespace, settings: Settings, state_dir: Path, *, keepalive_explicit: bool = False
    ) -> None:
        """``keepalive_explicit``: the keepalive was given (flag or variable), so it wins over
        ssh_config's ServerAliveInterval."""
        self.args = args
        self.state_dir = state_dir
        self.store = SQLiteStore(state_dir)
        self.audit = AuditLog(state_dir / "audit.log")
        self.pool = Pool(
            settings, state_dir=state_dir, keepalive_explicit=keepalive_explicit, host_key_advice=HOST_KEY_ADVICE
        )
        self.token = load_token(state_dir, args.token_file)
        self.app = create_app(
            self.pool,
            token=self.token,
            allowed_hosts=[*args.allowed_host, args.host],
            allow_networks=None if not args.allow_hosts else [args.allow_hosts],
            settings=settings,
            store=self.store,
            audit=self.audit,
            check_host=not args.socket,
            ready=False,
        )
        self.api = self.app.state.api
        config = uvicorn.Config(
            self.app,
            http=GatheringHttpToolsProtocol,
            log_config=None,
            access_log=args.access_log,
            lifespan="off",
            ssl_certfile=args.tls_cert,
            ssl_keyfile=args.tls_key,
            timeout_graceful_shutdown=max(1, int(settings.drain_timeout) + 5),
            server_header=False,
            proxy_headers=False,
        )
        config.load()  # a bad certificate or key fails here, before anything listens
        self.server = uvicorn.Server(config)
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._stopping: asyncio.Task[None] | None = None
        self.socket_path = os.path.abspath(args.socket) if args.socket else None
        self._tasks: set[asyncio.Task[None]] = set()

    def merge_startup_channels(self) -> None:
        """``--channel`` and ``--config`` DSNs overwrite stored ones of the same alias; config
        channels no longer in the file are forgotten."""
        for text in self.args.channel:
            dsn = check_servable(DSN.parse(text))
            if dsn.password:
                log.warning(
                    "warning: the password of channel %s is visible in ps when given with --channel; "
                    "put the DSN in a --config file (mode 0600) instead",
                    dsn.alias,
                )
            self.store.put(dsn, "channel")
        if self.args.config:
            wanted = {d.key: check_servable(d) for d in read_config(self.args.config)}
            mode = os.stat(self.args.config).st_mode
            if mode & 0o077 and any(d.password for d in wanted.values()):
                log.warning(
                    "warning: %s holds passwords and other users may read it: chmod 600 %s",
                    self.args.config,
                    self.args.config,
                )
            for stored in self.store.load():
                if stored.source == "config" and stored.dsn.key not in wanted:
                    self.store.delete(stored.dsn.alias)
            for dsn in wanted.values():
                self.store.put(dsn, "config")

    async def start_channels(self) -> None:
        for stored in self.store.load():
            await self.pool.start(stored.dsn, wait=0)

    async def reload(self) -> None:
        """SIGHUP: the token file and ``--config`` again; changed DSNs are updated in place."""
        self.audit.reopen()
        try:
            token = load_token(self.state_dir, self.args.token_file)
            self.api.token = token
            if not self.args.config:
                log.info("reloaded the token")
                return
            before = {s.dsn.key: s for s in self.store.load()}
            self.merge_startup_channels()
            after = {s.dsn.key: s for s in self.store.load()}
            for key, stored in before.items():
                if key not in after and stored.dsn.alias in self.pool:
                    await self.pool.stop(stored.dsn.alias)
            for key, stored in after.items():
                old = before.get(key)
                if stored.dsn.alias not in self.pool:
                    await self.pool.start(stored.dsn, wait=0)
                elif old is not None and old.dsn.to_text(reveal_password=True) != stored.dsn.to_text(
                    reveal_password=True
                ):
                    await self.pool.update(stored.dsn.alias, stored.dsn, wait=0)
            log.info("reloaded %s and the token: %d channels", self.args.config, len(self.pool))
        except (OSError, DSNError, TokenFileError) as exc:
            log.error("reload failed, nothing changed: %s", exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def begin_shutdown(self, signame: str) -> None:
        if self._stopping is not None:
            if signame == "SIGINT":
                log.warning("second interrupt: closing now")
                self.server.force_exit = True
            return
        log.info("received %s: shutting down", signame)
        self._stopping = asyncio.get_running_loop().create_task(self._shutdown())

    async def _shutdown(self) -> None:
        self.api.draining = True
        sd_notify("STOPPING=1")
        drain = self.pool.settings.drain_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain
        if self.api.in_flight:
            await asyncio.wait(list(self.api.in_flight), timeout=max(0.0, deadline - loop.time()))
        await self.pool.aclose(drain=0)
        # Let answered requests reach their clients before the server closes connections.
        await asyncio.sleep(0.1)
        self.server.should_exit = True

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.begin_shutdown, sig.name)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload()))
        sock = bind(self.args)
        await self.start_channels()
        await asyncio.sleep(0)
        if self.args.socket:
            where: dict[str, Any] = {"socket": self.socket_path}
            log.info(" * Running on unix:%s", where["socket"])
        else:
            host, port = sock.getsockname()[:2]
            scheme = "https" if self.args.tls_cert else "http"
            shown = f"[{host}]" if ":" in host else host
            where = {"url": f"{scheme}://{shown}:{port}/"}
            log.info(" * Running on %s", where["url"])
        serving = loop.create_task(self.server.serve(sockets=[sock]))
        while not self.server.started and not serving.done():  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.01)
        daemon_json: Path | None = None
        if self.server.started:
            daemon_json = _write_daemon_json(self.state_dir, {**where, "pid": os.getpid()})
            self.api.ready = True
            sd_notify("READY=1\nSTATUS=serving")
        try:
            await serving
        finally:
            if self._stopping is None:
                await self.pool.aclose()
            elif not self._stopping.done():
                await self._stopping
            if daemon_json is not None:
                _remove_own_daemon_json(daemon_json)
            if self.args.socket:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.args.socket)
            self.store.close()
            self.audit.close()
        return 0 if self.server.started else 1


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (everywhere but Windows): with uvicorn's httptools parser it
    takes about a millisecond of CPU off every request, which is most of what the REST path costs."""
    return _UVLOOP


def check_startup(args: argparse.Namespace) -> None:
    """What a usage error refuses before anything starts: a bad ``--allow-hosts``, ``--channel``
    or ``--config``, a missing certificate, key or token file (ValueError or OSError)."""
    if args.allow_hosts:
        parse_networks([args.allow_hosts])
    for text in args.channel:
        DSN.parse(text)
    if args.config:
        read_config(args.config)
    for flag, path in (
        ("--tls-cert", args.tls_cert),
        ("--tls-key", args.tls_key),
        ("--token-file", args.token_file),
    ):
        if path and not os.path.isfile(path):
            raise ValueError(f"{flag} {path}: no such file")


def serve(args: argparse.Namespace, settings: Settings, *, keepalive_explicit: bool = False) -> int:
    """Run the daemon until a signal stops it; the exit status (1: it could not start or listen)."""
    os.umask(0o077)
    state_dir = Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = StateLock(state_dir)
    try:
        lock.acquire()
    except StateDirBusy as exc:
        log.error("cannot start: %s", exc)
        return 1
    except OSError as exc:
        log.error("cannot start: cannot lock the state dir %s: %s", state_dir, exc)
        return 1
    try:
        daemon = Daemon(args, settings, state_dir, keepalive_explicit=keepalive_explicit)
        daemon.merge_startup_channels()
        import_at_start(daemon.store, getattr(args, "imports", ()))
    except ssl.SSLError as exc:
        log.error("cannot start: --tls-cert/--tls-key do not hold a PEM certificate and its key (%s)", exc)
        return 1
    except (OSError, RuntimeError, DSNError, TokenFileError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(daemon.run())
    except CannotListen as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot listen: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 0
