"""``sshpoolctl``'s front door: ``run ALIAS CMD``, ``status``, ``stop``, ``ssh`` and ``--version``
with the stdlib's lightest parts; the rest is the full CLI's (:mod:`sshpool.ctl.cli`).

A shell loop pays for a new Python process per call, so what runs before the request is the
whole cost: no argparse, httpx, asyncio, ssl, dataclasses or typing here; one socket, a few lines of
HTTP/1.1 (:mod:`sshpool.ctl.rawhttp`) and the output frames (:mod:`sshpool.outframes`) written as
they arrive. What this path does not know (another verb or flag, ``--help``, stdin with data on it,
a fan-out, TLS, a daemon that cannot be reached) goes to the full CLI *before* any request is sent,
so nothing runs twice; error answers are said by the full client's own table, imported then.
"""

from __future__ import annotations

import fcntl
import os
import select
import stat
import sys
import termios

from sshpool import quickjson
from sshpool._version import __version__
from sshpool.ctl.rawhttp import PLAIN, Answer, Exchange, ProtocolError
from sshpool.ctl.say import EXIT_ERROR, emit_json, reader_gone, say
from sshpool.ctl.statusview import status_lines, status_table
from sshpool.locate import find_address, find_token
from sshpool.outframes import CONTENT_TYPE, OUTCOME, STDERR, FrameDecoder, FrameError, outcome_of
from sshpool.waits import NO_LIMIT, http_deadline

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from sshpool.client.errors import ErrorMap
    from sshpool.locate import Address

__all__ = ["MODES", "main"]

#: ``--mode``'s words (sshpool.defaults.MODES, which this path does not import; a test keeps them equal).
MODES = ("exec", "shell")
_VERBS = ("run", "status", "stop", "ssh")
#: How long a request other than a command may take (the full client's 30 s, plus the daemon's own).
_REQUEST_TIMEOUT = 40.0


class _Full(Exception):
    """This call is the full CLI's: raised before anything was sent."""


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        call = _parse(words)
        return call()
    except _Full:
        return _full(argv)
    except KeyboardInterrupt:
        say("interrupted: the command was cancelled")
        return 130
    except BrokenPipeError:
        return reader_gone()


def _full(argv: Sequence[str] | None) -> int:
    from sshpool.ctl.cli import main as full_main  # the full CLI: only for what this path leaves

    return full_main(argv)


def _parse(words: list[str]) -> Callable[[], int]:
    """The call for ``words``, or :class:`_Full`. Top level: ``--host H``, ``--port P``, ``--json``."""
    if words == ["--version"]:
        return lambda: sys.stdout.write(f"sshpoolctl {__version__}\n") and 0
    host = port = None
    json_out = False
    while words and words[0].startswith("-"):
        flag, value, words = _option(words, ("--host", "--port"))
        if flag == "--json":
            json_out = True
        elif flag == "--host":
            host = value
        elif flag == "--port" and value.isdigit() and 1 <= int(value) <= 65535:
            port = value
        else:
            raise _Full
    if not words or words[0] not in _VERBS:
        raise _Full
    verb, rest = words[0], words[1:]
    daemon = _Daemon(host, port)
    if verb == "run":
        return _run_call(daemon, rest, json_out)
    if verb == "status":
        return _status_call(daemon, rest, json_out)
    if verb == "ssh":
        from sshpool.ctl.terminal import ssh_call  # a terminal: its own lean path

        if (call := ssh_call(daemon.address, daemon.headers(), rest)) is None:
            raise _Full
        return call
    return _stop_call(daemon, rest, json_out)


def _option(words: list[str], with_value: tuple[str, ...]) -> tuple[str, str, list[str]]:
    """The first word as (flag, value, what follows); ``--flag=value`` and ``--flag value``."""
    flag, eq, value = words[0].partition("=")
    if flag in with_value:
        if eq:
            return flag, value, words[1:]
        if len(words) < 2:
            raise _Full
        return flag, words[1], words[2:]
    if eq:
        raise _Full
    return flag, "", words[1:]


def _plain_alias(alias: str) -> str:
    if not alias or not set(alias) <= PLAIN:  # anything else: the full CLI quotes it
        raise _Full  # a glob or a list (a fan-out), or an alias to be quoted
    return alias


class _Daemon:
    """The daemon's address and token, found by :mod:`sshpool.locate`'s rules (SPEC.md's order:
    SSHPOOL_URL, then --host/--port, then daemon.json, then 127.0.0.1:8877)."""

    def __init__(self, host: str | None, port: str | None) -> None:
        try:
            found: Address = find_address()
        except ValueError:
            raise _Full from None
        if found[2] != "SSHPOOL_URL" and (host or port):
            name = host or "127.0.0.1"
            name = f"[{name}]" if ":" in name and not name.startswith("[") else name
            found = (f"http://{name}:{port or 8877}", None, "argument", "")
        if not found[0].startswith("http://") and not found[1]:
            raise _Full  # TLS: the full client speaks it
        self.address = found
        self.token, self.token_source = find_token()

    def headers(self, accept: str = "application/json") -> dict[str, str]:
        fields = {"Accept": accept, "User-Agent": "sshpool-client", "X-SSHPool-Client": f"sshpoolctl-{os.getpid()}"}
        if self.token:
            fields["Authorization"] = f"Bearer {self.token}"
        return fields

    def send(
        self, method: str, path: str, body: Any = None, *, accept: str = "application/json", wait: float | None
    ) -> tuple[Exchange, Answer]:
        """The answer's head; connecting is the last point where the full CLI may take over."""
        try:
            exchange = Exchange(self.address[0], self.address[1], wait)
        except OSError:
            raise _Full from None  # not reachable: the full CLI says why, in its words
        fields = self.headers(accept)
        data = b""
        if body is not None:
            fields["Content-Type"] = "application/json"
            data = quickjson.dumps(body).encode()
        try:
            return exchange, exchange.send(method, path, fields, data)
        except BaseException as exc:
            exchange.close()
            if isinstance(exc, OSError):
                raise _Lost(exc, wait) from None
            raise

    def errors(self) -> ErrorMap:
        from sshpool.client.discovery import DaemonEndpoint  # the full client's error table, on an error only
        from sshpool.client.errors import ErrorMap

        return ErrorMap(DaemonEndpoint(*self.address), self.token_source)

    def fail(self, answer: Answer, method: str, path: str, alias: str | None, json_out: bool) -> int:
        """An answer that is not 2xx, said as the full CLI says it."""
        body = answer.read()
        return self.said(self.errors().answer_error(answer.status, answer.headers, body, method, path, alias), json_out)

    def lost(self, lost: _Lost, json_out: bool) -> int:
        garbled = isinstance(lost.cause, ProtocolError)
        return self.said(self.errors().socket_error(lost.cause, lost.wait, garbled=garbled, command=True), json_out)

    def said(self, exc: BaseException, json_out: bool) -> int:
        from sshpool.ctl.format import error_line  # error text: the full CLI's, when one is needed
        from sshpool.errors import SSHPoolError

        if not isinstance(exc, SSHPoolError):
            say(str(exc))
            return EXIT_ERROR
        if json_out:
            emit_json({"error": exc.code, "exception": str(exc), "alias": exc.alias})
        say(error_line(exc))
        return EXIT_ERROR


class _Lost(Exception):
    """The request went out and no whole answer came back."""

    def __init__(self, cause: OSError, wait: float | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.wait = wait


def _run_call(daemon: _Daemon, words: list[str], json_out: bool) -> Callable[[], int]:
    """``run [--timeout S] [-n] [--mode M] ALIAS COMMAND...`` with nothing on stdin to send."""
    body: dict[str, Any] = {}
    no_stdin = False
    while words and words[0].startswith("-"):
        flag, value, words = _option(words, ("--timeout", "--mode"))
        if flag == "-n":
            no_stdin = True
        elif flag == "--mode" and value in MODES:
            body["mode"] = value
        elif flag == "--timeout":
            body["timeout"] = _timeout(value)
        else:
            raise _Full
    if json_out or not words or not (no_stdin or _nothing_on_stdin()):
        raise _Full
    alias, command = _plain_alias(words[0]), " ".join(words[1:])
    if not command.strip() or (not command.isprintable() and _not_utf8(command)):
        raise _Full
    body = {"command": command, "raw": True, **body}
    return lambda: _run(daemon, alias, body)


def _timeout(text: str) -> float | str:
    if text in ("0", "none", "off"):
        return NO_LIMIT
    whole, _, part = text.partition(".")
    if not whole.isdigit() or (part and not part.isdigit()) or not float(text) > 0:
        raise _Full  # anything less plain: the full CLI's rule and message
    return float(text)


def _not_utf8(command: str) -> bool:
    try:
        command.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _nothing_on_stdin() -> bool:
    """What :func:`sshpool.ctl.input.stdin_stream` sends nothing for, found without reading a byte: a
    terminal, ``/dev/null``, an empty file, a closed stdin, a pipe already at its end (readable, and
    nothing in it). A pipe that holds data, or may still get some, is the full CLI's to stream."""
    try:
        st = os.fstat(0)
    except OSError:
        return True
    if os.isatty(0) or stat.S_ISCHR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_size == 0):
        return True
    if not (stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode)):
        return False
    readable, _, _ = select.select([0], [], [], 0)
    try:
        waiting = int.from_bytes(fcntl.ioctl(0, termios.FIONREAD, bytes(4)), sys.byteorder)
    except OSError:
        return False
    return bool(readable) and waiting == 0


def _run(daemon: _Daemon, alias: str, body: dict[str, Any]) -> int:
    path = f"/channels/{alias}"
    wait = http_deadline(body.get("timeout"))
    accept = f"{CONTENT_TYPE}, application/problem+json"
    try:
        exchange, answer = daemon.send("POST", path, body, accept=accept, wait=wait)
    except _Lost as lost:
        return daemon.lost(lost, False)
    try:
        if not 200 <= answer.status < 300:
            return daemon.fail(answer, "POST", path, alias, False)
        try:
            outcome = _relay(answer)
        except (OSError, FrameError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            cause = exc if isinstance(exc, OSError) else ProtocolError(str(exc))
            return daemon.lost(_Lost(cause, wait), False)
    finally:
        exchange.close()
    if outcome.get("error") is None and not outcome.get("signal") and not outcome.get("timed_out"):
        code = outcome.get("exit_code")
        if isinstance(code, int) and not isinstance(code, bool) and code >= 0:
            return min(code, 255)
    return _ended_otherwise(daemon, alias, body["command"], outcome)


def _relay(answer: Answer) -> dict[str, Any]:
    """Write the output frames as they come; the outcome frame's object."""
    out, err = sys.stdout.buffer, sys.stderr.buffer
    sys.stdout.flush()
    decoder = FrameDecoder()
    outcome: dict[str, Any] | None = None
    for piece in answer.chunks():
        wrote = set()
        for kind, payload in decoder.feed(piece):
            if kind == OUTCOME:
                outcome = outcome_of(payload)
                continue
            target = err if kind == STDERR else out
            target.write(payload)
            wrote.add(target)
        for target in wrote:
            target.flush()
    decoder.close()
    assert outcome is not None
    return outcome


def _ended_otherwise(daemon: _Daemon, alias: str, command: str, outcome: dict[str, Any]) -> int:
    """A command that did not just exit (a signal, a timeout, an error, a refusal): the full
    CLI's note and status for it."""
    from sshpool.client.wire import outcome_of as result_of  # the Result, built as the client builds it
    from sshpool.ctl.format import exit_status, result_note
    from sshpool.errors import SSHPoolError

    result = result_of(outcome, alias, command)
    if isinstance(result, SSHPoolError):
        return daemon.said(result, False)
    if result.error is not None or result.signal:
        say(result_note(result) or result.describe())
    return exit_status(result)


def _status_call(daemon: _Daemon, words: list[str], json_out: bool) -> Callable[[], int]:
    """``status [--json] [ALIAS]`` once (``--watch``, ``--check``...: the full CLI)."""
    alias = None
    for word in words:
        if word == "--json":
            json_out = True
        elif word.startswith("-") or alias is not None:
            raise _Full
        else:
            alias = _plain_alias(word)
    return lambda: _status(daemon, alias, json_out)


def _get_json(
    daemon: _Daemon, method: str, path: str, alias: str | None, json_out: bool, *, parse: bool = True
) -> tuple[int, Any]:
    """(0, the answer's JSON) or (the exit status, None) once the error is said."""
    try:
        exchange, answer = daemon.send(method, path, wait=_REQUEST_TIMEOUT)
    except _Lost as lost:
        return daemon.lost(lost, json_out), None
    try:
        if not 200 <= answer.status < 300:
            return daemon.fail(answer, method, path, alias, json_out), None
        try:
            body = answer.read()
            return 0, quickjson.loads(body or b"null") if parse else None
        except (OSError, ValueError) as exc:
            cause = exc if isinstance(exc, OSError) else ProtocolError(str(exc))
            return daemon.lost(_Lost(cause, _REQUEST_TIMEOUT), json_out), None
    finally:
        exchange.close()


def _status(daemon: _Daemon, alias: str | None, json_out: bool) -> int:
    failed, doc = _get_json(daemon, "GET", f"/channels/{alias}" if alias else "/channels", alias, json_out)
    if failed:
        return failed
    channels = {alias: doc} if alias else doc
    if json_out:
        emit_json(doc, ensure_ascii=True)
        return 0
    for line in (status_table if sys.stdout.isatty() else status_lines)(channels):
        print(line)
    if not channels:
        say("no channels yet; add one with `sshpoolctl start DSN`")
    sys.stdout.flush()
    return 0


def _stop_call(daemon: _Daemon, words: list[str], json_out: bool) -> Callable[[], int]:
    """``stop [--json] ALIAS``."""
    names = [w for w in words if w != "--json"]
    if len(names) != 1 or names[0].startswith("-"):
        raise _Full
    json_out = json_out or len(names) != len(words)
    alias = _plain_alias(names[0])

    def stop() -> int:
        failed, _ = _get_json(daemon, "DELETE", f"/channels/{alias}", alias, json_out, parse=False)
        if failed:
            return failed
        if json_out:
            emit_json({"alias": alias, "stopped": True})
        else:
            print("OK")
        return 0

    return stop
