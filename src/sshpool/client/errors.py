"""httpx's failures and the daemon's error answers, as the exceptions a direct connection raises.

One table per edge, used as ``with`` (httpx's own ``map_httpcore_exceptions()`` pattern): every
request of the client, and of the daemon runner built on it, goes through :meth:`ErrorMap.mapping`
for transport failures and :meth:`ErrorMap.check` for an answer that is not 2xx, so a message
is written once and callers catch by meaning whichever way they reach a host.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from sshpool.client.discovery import DaemonEndpoint
from sshpool.errors import (
    CommandTimeoutError,
    DaemonUnavailableError,
    RequestError,
    SSHPoolError,
    TokenError,
    UnknownAliasError,
    error_from_code,
)

__all__ = ["FILE_ERRORS", "ErrorMap"]

#: The ``code`` of a file error, as the OSError a local file operation raises.
FILE_ERRORS: dict[str, tuple[type[OSError], int]] = {
    "file_not_found": (FileNotFoundError, errno.ENOENT),
    "permission_denied": (PermissionError, errno.EACCES),
    "file_error": (OSError, errno.EIO),
}
#: The ``code`` of an answer without one, by HTTP status.
STATUS_CODES = {404: "unknown_alias", 400: "bad_request", 409: "alias_in_use", 413: "too_large"}
#: Words of an OpenSSL error that mean "the server there speaks plain HTTP".
PLAIN_HTTP_SIGNS = ("WRONG_VERSION_NUMBER", "record layer failure", "packet length")


class ErrorMap:
    """The exceptions of one daemon's answers and failures; the messages name its address and
    where its token came from (never the token)."""

    def __init__(self, endpoint: DaemonEndpoint, token_source: str) -> None:
        self.endpoint = endpoint
        self.token_source = token_source

    @contextlib.contextmanager
    def mapping(self, deadline: float | None, *, command: bool = False) -> Iterator[None]:
        """Translate httpx's failures inside the block; ``deadline`` is the wait that ran out (None:
        there was none), ``command`` says the request ran a command (a lost answer may then mean it ran)."""
        try:
            yield
        except httpx.HTTPError as exc:
            raise self.transport_error(exc, deadline, command=command) from None

    async def check(self, resp: httpx.Response, alias: str | None = None) -> None:
        """Raise the exception of an answer that is not 2xx (a streamed answer's body is read
        first: it carries the problem+json)."""
        if not resp.is_success:
            await resp.aread()
            raise self.response_error(resp, alias)

    def answer_error(
        self, status: int, headers: dict[str, str], body: bytes, method: str, path: str, alias: str | None = None
    ) -> SSHPoolError | OSError:
        """:meth:`response_error` for an answer read without httpx (sshpoolctl's lean path over a
        plain socket), so there is still one table."""
        request = httpx.Request(method, self.endpoint.url + path)
        return self.response_error(httpx.Response(status, headers=headers, content=body, request=request), alias)

    def socket_error(
        self, exc: OSError, deadline: float | None, *, garbled: bool = False, command: bool = False
    ) -> SSHPoolError:
        """:meth:`transport_error` for a plain socket's failure after the request went out: a
        timeout, a connection lost, or (``garbled``) bytes that were not the answer expected."""
        cause: httpx.HTTPError
        if isinstance(exc, TimeoutError):
            cause = httpx.ReadTimeout(str(exc))
        elif garbled:
            cause = httpx.RemoteProtocolError(str(exc))
        else:
            cause = httpx.ReadError(str(exc))
        return self.transport_error(cause, deadline, command=command)

    def not_running(self) -> DaemonUnavailableError:
        hint = "start it with `sshpoold`"
        if self.endpoint.source not in ("default", "argument"):
            hint += f" (address from {self.endpoint.source})"
        elif self.endpoint.source == "default" and self.endpoint.note:
            # The default address was tried because the state dir named none: say which dir.
            hint += (
                f" ({self.endpoint.note}; for a daemon with another --state-dir, set SSHPOOL_STATE_DIR "
                "to it, or SSHPOOL_URL)"
            )
        return DaemonUnavailableError(f"the daemon is not running on {self.endpoint.where} — {hint}")

    def transport_error(self, exc: httpx.HTTPError, deadline: float | None, *, command: bool = False) -> SSHPoolError:
        """The exception for a request that got no answer."""
        where = self.endpoint.where
        if isinstance(exc, httpx.ConnectError) and ("SSL" in str(exc) or "CERTIFICATE" in str(exc).upper()):
            return self.tls_error(exc)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return self.not_running()
        plain_tcp = self.endpoint.url.startswith("http://") and not self.endpoint.socket
        if isinstance(exc, httpx.RemoteProtocolError) and plain_tcp and self._listening():
            return DaemonUnavailableError(
                f"the server at {where} did not answer as sshpoold does over plain HTTP: if it "
                f"serves TLS (--tls-cert), use https://{where}; else check that it is sshpoold"
            )
        if isinstance(exc, httpx.TimeoutException):
            within = f" within {deadline:g} s" if deadline is not None else ""
            if command:
                return CommandTimeoutError(
                    f"no answer from the daemon at {where}{within}; "
                    "the command may still be running: pass a larger timeout"
                )
            return DaemonUnavailableError(
                f"the daemon at {where} did not answer{within}; "
                "check that it is healthy (`sshpoolctl status`) or raise the client timeout"
            )
        what = " (the command may have run)" if command else ""
        return DaemonUnavailableError(
            f"lost the connection to the daemon at {where}{what}: {type(exc).__name__}; "
            "check that sshpoold is still running"
        )

    def _listening(self) -> bool:
        """Something still accepts connections at the daemon's address: a server that closed on
        our request without a word then (a TLS one, say), where a refused connect means the daemon
        itself went away under the request. Asked on that failure only; loopback answers at once."""
        parts = urlsplit(self.endpoint.url)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=0.5):
                return True
        except OSError:
            return False

    def tls_error(self, exc: httpx.ConnectError) -> SSHPoolError:
        text = str(exc)
        if any(sign in text for sign in PLAIN_HTTP_SIGNS):
            return DaemonUnavailableError(
                f"{self.endpoint.url} asks for TLS, but the server there speaks plain HTTP: use "
                f"http://{self.endpoint.where} (sshpoold serves https only with --tls-cert)"
            )
        return DaemonUnavailableError(
            f"TLS with the daemon at {self.endpoint.where} failed: {text}; for a self-signed --tls-cert, "
            "add it to the trusted certificates (SSL_CERT_FILE)"
        )

    def response_error(self, resp: httpx.Response, alias: str | None = None) -> SSHPoolError | OSError:
        """The exception for a non-2xx answer, from its problem+json ``code``; a file error is the
        OSError a local file operation raises."""
        doc: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            parsed = json.loads(resp.content or b"null")
            if isinstance(parsed, dict):
                doc = parsed
        code = str(doc.get("code") or resp.headers.get("x-sshpool-error") or "")
        detail = str(doc.get("detail") or resp.text.strip() or f"HTTP {resp.status_code}")
        who = doc.get("alias") if isinstance(doc.get("alias"), str) else alias
        if resp.status_code == 401 or code == "unauthorized":
            return TokenError(
                f"the daemon at {self.endpoint.where} refused the token (from {self.token_source}); "
                "set SSHPOOL_TOKEN or SSHPOOL_STATE_DIR to the daemon's token"
            )
        code = code or STATUS_CODES.get(resp.status_code, "error")
        if code in FILE_ERRORS:
            cls, number = FILE_ERRORS[code]
            return cls(number, detail)
        if code == "not_found":
            return RequestError(f"the daemon at {self.endpoint.where} has no {resp.request.url.path}: {detail}")
        if code == "unknown_alias":
            return UnknownAliasError(who or "", None, message=detail)
        return error_from_code(code, detail, alias=who, fingerprint=doc.get("fingerprint"))
