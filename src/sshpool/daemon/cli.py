"""``sshpoold``: the REST daemon. One asyncio process: uvicorn serving :func:`sshpool.daemon.app.create_app`
over a :class:`~sshpool.core.pool.Pool`, channels remembered in the state dir.

Startup: parse flags (flag, then ``SSHPOOL_*``, then default), lock the state dir (one daemon per
state dir, see :mod:`sshpool.daemon.statelock`), load the token and the stored
channels, merge ``--channel`` and ``--config`` into the store, start every channel without waiting,
bind, write ``daemon.json``, tell systemd READY=1. SIGTERM/SIGINT: not ready at once, new commands
get ``shutting_down``, running ones get the drain time, then every connection closes and the
process exits 0. SIGHUP re-reads ``--config`` and the token file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sshpool._version import __version__
from sshpool.clihelp import ClassicHelpFormatter
from sshpool.daemon.statelock import StateDirBusy, StateLock
from sshpool.defaults import HELP, HOST_KEY_POLICIES, MODES, Settings, default_state_dir
from sshpool.dsn import DSN
from sshpool.errors import DSNError

if TYPE_CHECKING:
    from sshpool.core.pool import Pool
    from sshpool.daemon.store import SQLiteStore

__all__ = ["build_parser", "main"]

log = logging.getLogger("sshpool")
LOG_FORMAT = "[%(asctime)s] %(message)s"
_NO_LIMIT = "none"


def _env(name: str, default: Any = None) -> Any:
    value = os.environ.get("SSHPOOL_" + name.upper())
    return value if value not in (None, "") else default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sshpoold",
        usage="%(prog)s [-h] [--channel CHANNEL] [--host HOST] [--port PORT] ...",
        formatter_class=ClassicHelpFormatter,
        add_help=False,
        epilog="Each setting (and --host, --port, --config, --socket, --log-level...) also reads an SSHPOOL_* "
        "variable of the same name "
        "(--command-timeout: SSHPOOL_COMMAND_TIMEOUT); the flag wins.",
    )
    g = parser.add_argument_group("optional arguments")
    g.add_argument("-h", "--help", action="help", help="show this help message and exit")
    g.add_argument("--channel", action="append", default=[], help="alias://user:pass@host:port")
    g.add_argument("--host", default=_env("host", "127.0.0.1"), help="SSHPool interface (default: 127.0.0.1)")
    g.add_argument("--port", type=int, default=int(_env("port", 8877)), help="SSHPool listening port (default: 8877)")
    g.add_argument(
        "--config",
        default=_env("config"),
        metavar="FILE",
        help="file of DSNs, one per line, '#' comments (re-read on SIGHUP)",
    )
    g.add_argument(
        "--state-dir",
        default=None,
        metavar="DIR",
        help="channels, token, audit log and known_hosts (default: $SSHPOOL_STATE_DIR or ~/.local/state/sshpool)",
    )
    g.add_argument(
        "--socket", default=_env("socket"), metavar="PATH", help="listen on this Unix socket (mode 0600) instead of TCP"
    )
    g.add_argument(
        "--allow-hosts",
        default=_env("allow_hosts"),
        metavar="CIDR,...",
        help="networks the API may add channels for (default: any)",
    )
    g.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another accepted HTTP Host header (localhost, 127.0.0.1, [::1] and --host always are)",
    )
    g.add_argument(
        "--token-file",
        default=_env("token_file"),
        metavar="FILE",
        help="read the API token from FILE (default: SSHPOOL_TOKEN, else <state-dir>/token, made on first start)",
    )
    g.add_argument("--tls-cert", default=_env("tls_cert"), metavar="FILE", help="serve HTTPS with this certificate")
    g.add_argument("--tls-key", default=_env("tls_key"), metavar="FILE", help="the certificate's private key")
    g.add_argument(
        "--insecure-bind",
        action="store_true",
        default=bool(_env("insecure_bind")),
        help="allow a non-loopback --host without TLS",
    )
    g.add_argument(
        "--log-level",
        default=_env("log_level", "info"),
        choices=["debug", "info", "warning", "error"],
        help="log level (default: info)",
    )
    g.add_argument("--access-log", action="store_true", help="log every HTTP request")
    for f in fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "host_key_policy":
            g.add_argument(flag, choices=HOST_KEY_POLICIES, default=None, help=HELP[f.name])
        elif f.name == "mode":
            g.add_argument(flag, choices=MODES, default=None, help=HELP[f.name])
        else:
            g.add_argument(flag, type=_setting_type(f.name), default=None, metavar=_metavar(f.name), help=HELP[f.name])
    g.add_argument("--version", action="version", version=f"sshpoold {__version__}")
    return parser


def _metavar(name: str) -> str:
    if name in ("output_limit", "output_budget", "body_limit", "file_limit"):
        return "BYTES"
    return "N" if isinstance(getattr(Settings, name), int) else "SECONDS"


def _setting_type(name: str) -> Any:
    default = getattr(Settings, name)

    def convert(text: str) -> Any:
        if name == "command_timeout" and text.lower() in ("none", "off"):
            return _NO_LIMIT
        try:
            value = int(text) if isinstance(default, int) else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a {'whole ' if isinstance(default, int) else ''}number, got {text!r}"
            ) from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
        return value

    return convert


def configure_logging(level: str) -> None:
    """The classic ``[YYYY-mm-dd HH:MM:SS,mmm] message`` on stderr, uvicorn's loggers included."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.error").setLevel("DEBUG" if level == "debug" else "WARNING")
    logging.getLogger("asyncssh").setLevel("DEBUG" if level == "debug" else "WARNING")


def read_config(path: str) -> list[DSN]:
    """DSNs of a ``--config`` file; a bad line names its file and line number."""
    dsns = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not text:
            continue
        try:
            dsns.append(DSN.parse(text))
        except DSNError as exc:
            raise DSNError(f"{path}:{number}: {exc}") from None
    return dsns


class TokenFileError(Exception):
    """A ``--token-file`` that cannot serve: missing or empty. At start it stops the daemon; at a
    reload the old token stays."""


def load_token(state_dir: Path, token_file: str | None) -> str:
    """SSHPOOL_TOKEN, else ``--token-file``, else ``<state-dir>/token`` (made 0600 on first start).

    A given token file is the admin's: an empty one is refused rather than overwritten with a
    token nobody was told about."""
    env = os.environ.get("SSHPOOL_TOKEN", "").strip()
    if env:
        return env
    path = Path(token_file) if token_file else state_dir / "token"
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if token_file:
            raise TokenFileError(f"--token-file {token_file}: no such file") from None
        token = ""
    if token:
        _warn_if_others_read(path)
        return token
    if token_file:
        raise TokenFileError(
            f"--token-file {token_file} is empty: write a token into it, e.g. "
            f"python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > {token_file}; "
            "or leave --token-file out and sshpoold makes one in its state dir"
        )
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def _warn_if_others_read(path: Path) -> None:
    """The same warning as for a channel file that holds passwords: the token is the API's key."""
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            log.warning("warning: the token file %s may be read by other users: chmod 600 %s", path, path)


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(args: argparse.Namespace) -> socket.socket:
    if args.socket:
        path = Path(args.socket)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        return sock
    host = args.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio turns TCP_NODELAY on only for sockets that say so, and
    # without it every response (headers, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, args.port))
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

    def __init__(self, args: argparse.Namespace, settings: Settings, state_dir: Path) -> None:
        # Imported here so that ``sshpoold -h`` answers at once.
        import uvicorn

        from sshpool.core.pool import Pool
        from sshpool.daemon.app import create_app
        from sshpool.daemon.audit import AuditLog
        from sshpool.daemon.store import SQLiteStore

        self.args = args
        self.state_dir = state_dir
        self.store: SQLiteStore = SQLiteStore(state_dir)
        self.audit = AuditLog(state_dir / "audit.log")
        keepalive_explicit = args.keepalive_interval is not None or bool(_env("keepalive_interval"))
        self.pool: Pool = Pool(settings, state_dir=state_dir, keepalive_explicit=keepalive_explicit)
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

    # -- channels

    def merge_startup_channels(self) -> None:
        """``--channel`` and ``--config`` DSNs overwrite stored ones of the same alias; config
        channels no longer in the file are forgotten."""
        for text in self.args.channel:
            dsn = DSN.parse(text)
            if dsn.password:
                log.warning(
                    "warning: the password of channel %s is visible in ps when given with --channel; "
                    "put the DSN in a --config file (mode 0600) instead",
                    dsn.alias,
                )
            self.store.put(dsn, "channel")
        if self.args.config:
            wanted = {d.key: d for d in read_config(self.args.config)}
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

    # -- lifecycle

    def _spawn(self, coro: Any) -> None:
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
        sock = _bind(self.args)
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


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {f.name: getattr(args, f.name) for f in fields(Settings) if getattr(args, f.name) is not None}
    no_limit = overrides.get("command_timeout") == _NO_LIMIT
    if no_limit:
        del overrides["command_timeout"]
    settings = Settings.from_env(**overrides)
    return replace(settings, command_timeout=None) if no_limit else settings


def check_bind(args: argparse.Namespace) -> str | None:
    """Why the bind is refused, or None: a non-loopback address needs TLS or --insecure-bind."""
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together"
    if args.socket or _is_loopback(args.host) or args.tls_cert or args.insecure_bind:
        return None
    return (
        f"refusing to serve plain HTTP on {args.host}: anyone on that network could read the token; "
        "pass --tls-cert/--tls-key, or --insecure-bind if a trusted proxy terminates TLS"
    )


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (everywhere but Windows): with uvicorn's httptools parser it
    takes about a millisecond of CPU off every request, which is most of what the REST path costs."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    why = check_bind(args)
    if why:
        parser.error(why)
    try:
        settings = settings_from(args)
        if args.allow_hosts:
            from sshpool.daemon.app import parse_networks

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
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    configure_logging(args.log_level)
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
        daemon = Daemon(args, settings, state_dir)
        daemon.merge_startup_channels()
    except ssl.SSLError as exc:
        log.error("cannot start: --tls-cert/--tls-key do not hold a PEM certificate and its key (%s)", exc)
        return 1
    except (OSError, RuntimeError, DSNError, TokenFileError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(daemon.run())
    except OSError as exc:
        log.error("cannot listen: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 0
