"""What a command gave back: one frozen value for the library, the daemon and the shell."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sshpool.errors import CommandError, CommandFailedError, error_class

__all__ = ["OutputCallback", "Result", "decode_output"]

OutputCallback = Callable[[str, bytes], None]
"""``on_output(stream, data)``: called with each piece of output as it arrives (``stream`` is
``stdout`` or ``stderr``)."""


def decode_output(data: bytes) -> str:
    """Text for people and JSON: invalid UTF-8 is replaced, never fatal (the bytes are kept too)."""
    return data.decode("utf-8", errors="replace")


class _Text:
    """``stdout``/``stderr``: the text of the kept bytes, decoded on first read. Decoding 100 MB
    costs about as much as receiving it, and a caller who takes the bytes (a framed answer, a
    file, ``stdout_bytes``) never needs the text."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = "_" + name
        self._raw = name + "_bytes"

    def __get__(self, result: object, owner: type | None = None) -> str:
        if result is None:
            return ""  # the dataclass default
        text: str | None = result.__dict__[self._slot]
        if text is None:
            text = decode_output(getattr(result, self._raw) or b"")
            result.__dict__[self._slot] = text
        return text

    def __set__(self, result: object, text: str | None) -> None:
        result.__dict__[self._slot] = text


@dataclass(frozen=True)
class Result:
    """A finished (or abandoned) command.

    ``exit_code`` is None when the command gave none (killed by a signal, timed out, link lost).
    ``error`` is a code from :mod:`sshpool.errors` when the command did not end normally, and
    ``exception`` is the human sentence for it (the classic field name).
    """

    #: None given with ``stdout_bytes``: decoded from them when first read (a str always comes out).
    stdout: _Text = _Text()
    stderr: _Text = _Text()
    exit_code: int | None = None
    signal: str | None = None
    timed_out: bool = False
    truncated: bool = False
    stdout_total: int = 0
    stderr_total: int = 0
    duration: float = 0.0
    error: str | None = None
    exception: str | None = None
    alias: str | None = None
    command: str | None = field(default=None, repr=False)
    stdout_bytes: bytes | None = field(default=None, repr=False)
    stderr_bytes: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(cls, stdout: bytes, stderr: bytes, **fields: Any) -> Result:
        fields.setdefault("stdout_total", len(stdout))
        fields.setdefault("stderr_total", len(stderr))
        return cls(
            stdout=None,
            stderr=None,
            stdout_bytes=stdout,
            stderr_bytes=stderr,
            **fields,
        )

    @property
    def ok(self) -> bool:
        """True when the command ran to the end and exited 0."""
        return self.exit_code == 0 and self.error is None

    @property
    def returncode(self) -> int | None:
        """subprocess's name for ``exit_code``."""
        return self.exit_code

    def describe(self) -> str:
        where = f" on {self.alias}" if self.alias else ""
        if self.exception:
            return self.exception
        if self.signal:
            return f"command killed by signal {self.signal}{where}"
        if self.exit_code not in (0, None):
            tail = self.stderr.strip().splitlines()[-1:] or [""]
            detail = f": {tail[0]}" if tail[0] else ""
            return f"command exited with status {self.exit_code}{where}{detail}"
        return f"command failed{where}"

    def check(self, *, check_stderr: bool = False) -> Result:
        """Return self when the command succeeded, else raise the CommandError its ``error``
        code names (:func:`~sshpool.errors.error_class`); a code that names no CommandError
        (``signal``, a refusal's) raises CommandFailedError, as does a non-zero exit.

        ``check_stderr`` also treats any stderr output as failure: the rule the poseidon
        ``wait`` helper documents.
        """
        code = "timeout" if self.timed_out else self.error
        if code is None and self.exit_code != 0:
            code = "command_failed"
        if code is not None:
            cls = error_class(code)
            raise (cls if issubclass(cls, CommandError) else CommandFailedError)(self.describe(), result=self)
        if check_stderr and self.stderr:
            raise CommandFailedError(
                f"command wrote to stderr{' on ' + self.alias if self.alias else ''}: {self.stderr.strip()[:500]}",
                result=self,
            )
        return self

    def to_dict(self, *, raw: bool = False, output: bool = True) -> dict[str, Any]:
        """The REST shape; ``raw`` adds byte-exact base64, ``output=False`` leaves output out
        (the last line of a stream, whose output was already sent)."""
        d: dict[str, Any] = {}
        if output:
            d["stdout"] = self.stdout
            d["stderr"] = self.stderr
        d.update(
            exit_code=self.exit_code,
            signal=self.signal,
            timed_out=self.timed_out,
            truncated=self.truncated,
            stdout_total=self.stdout_total,
            stderr_total=self.stderr_total,
            duration=round(self.duration, 6),
        )
        if self.error is not None:
            d["error"] = self.error
            d["exception"] = self.exception or self.describe()
        if raw and output:
            d["stdout_b64"] = base64.b64encode(self.stdout_bytes or b"").decode("ascii")
            d["stderr_b64"] = base64.b64encode(self.stderr_bytes or b"").decode("ascii")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, alias: str | None = None, command: str | None = None) -> Result:
        out_b = base64.b64decode(d["stdout_b64"]) if "stdout_b64" in d else None
        err_b = base64.b64decode(d["stderr_b64"]) if "stderr_b64" in d else None
        stdout = d.get("stdout", "")
        stderr = d.get("stderr", "")
        return cls(
            stdout=stdout if out_b is None else decode_output(out_b),
            stderr=stderr if err_b is None else decode_output(err_b),
            exit_code=d.get("exit_code"),
            signal=d.get("signal"),
            timed_out=bool(d.get("timed_out", False)),
            truncated=bool(d.get("truncated", False)),
            stdout_total=int(d.get("stdout_total", len(stdout))),
            stderr_total=int(d.get("stderr_total", len(stderr))),
            duration=float(d.get("duration", 0.0)),
            error=d.get("error"),
            exception=d.get("exception"),
            alias=alias,
            command=command,
            stdout_bytes=out_b,
            stderr_bytes=err_b,
        )
