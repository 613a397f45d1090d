"""``sshpoold``'s command line: the parser, the settings it gives, the bind check, logging, and main.

Each setting comes from its flag, else its ``SSHPOOL_*`` variable, else its default, read by the
one parser its field in :class:`~sshpool.defaults.Settings` holds. The server is imported only once
the flags are parsed, so that ``sshpoold -h`` answers at once; :mod:`sshpool.daemon.server` runs
the daemon.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from sshpool._version import __version__
from sshpool.clihelp import ClassicHelpFormatter
from sshpool.defaults import UNSET, Settings

__all__ = ["build_parser", "check_bind", "configure_logging", "given_settings", "main", "settings_from"]

LOG_FORMAT = "[%(asctime)s] %(message)s"


def _env(name: str, default: str | None = None) -> str | None:
    """``SSHPOOL_<NAME>`` for a daemon flag that is not a setting (--host, --config...); empty is unset."""
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
        "(--command-timeout: SSHPOOL_COMMAND_TIMEOUT); the flag wins. Log lines are stamped in UTC, "
        "as the audit log is.",
    )
    g = parser.add_argument_group("optional arguments")
    g.add_argument("-h", "--help", action="help", help="show this help message and exit")
    g.add_argument("--channel", action="append", default=[], help="alias://user:pass@host:port")
    g.add_argument("--host", default=_env("host", "127.0.0.1"), help="SSHPool interface (default: 127.0.0.1)")
    g.add_argument("--port", type=int, default=int(_env("port") or 8877), help="SSHPool listening port (default: 8877)")
    g.add_argument(
        "--config",
        default=_env("config"),
        metavar="FILE",
        help="file of DSNs, one per line, '#' comments (re-read on SIGHUP)",
    )
    g.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="SOURCE",
        help="channels from an inventory at start, repeatable: ssh-config, ssh-config:PATH, ansible:FILE, "
        "digitalocean or digitalocean:TAG (kept ones stay, changed ones are kept and logged)",
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
        help = Settings.help_text(f.name)
        if "choices" in f.metadata:  # argparse checks them, and the help lists them
            g.add_argument(flag, choices=f.metadata["choices"], default=UNSET, help=help)
        else:
            g.add_argument(flag, type=_flag_type(f.name), default=UNSET, metavar=f.metadata["metavar"], help=help)
    g.add_argument("--version", action="version", version=f"sshpoold {__version__}")
    return parser


def _flag_type(name: str) -> Callable[[str], Any]:
    """The setting's own parser, as argparse wants it (a refusal is an ArgumentTypeError)."""

    def convert(text: str) -> Any:
        try:
            return Settings.parse(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given explicitly: ``SSHPOOL_*`` variables, then flags (a flag wins). A bad
    variable raises ValueError naming it."""
    flags = {name: getattr(args, name) for name in Settings.names() if getattr(args, name) is not UNSET}
    return {**Settings.env_values(), **flags}


def settings_from(args: argparse.Namespace) -> Settings:
    """The daemon's settings: flag, else variable, else default."""
    return Settings(**given_settings(args))


def configure_logging(level: str) -> None:
    """The classic ``[YYYY-mm-dd HH:MM:SS,mmm] message`` on stderr, uvicorn's loggers included.
    The stamp is UTC, as the audit log's ``time`` is, so the two read side by side in any time zone."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(LOG_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.error").setLevel("DEBUG" if level == "debug" else "WARNING")
    logging.getLogger("asyncssh").setLevel("DEBUG" if level == "debug" else "WARNING")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    why = check_bind(args)
    if why:
        parser.error(why)
    # Deferred: uvicorn, the pool and the app take a while to import, and -h/--version need none of them.
    from sshpool.daemon import server

    try:
        given = given_settings(args)
        server.check_startup(args)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    configure_logging(args.log_level)
    return server.serve(args, Settings(**given), keepalive_explicit="keepalive_interval" in given)
