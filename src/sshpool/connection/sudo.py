"""How sudo's answers are read, and how a secret is kept out of a Result's text."""

from __future__ import annotations

from dataclasses import replace

from sshpool.result import Result

__all__ = ["redact", "sudo_refused_password", "sudo_wants_password"]


def redact(result: Result, secret: str | None) -> Result:
    """``result`` with every occurrence of ``secret`` in its text and bytes replaced by ``****``."""
    if not secret:
        return result
    text = {k: getattr(result, k) for k in ("stdout", "stderr", "exception")}
    if not any(v and secret in v for v in text.values()):
        return result
    blob = secret.encode()
    return replace(
        result,
        **{k: v.replace(secret, "****") for k, v in text.items() if v},
        stdout_bytes=(result.stdout_bytes or b"").replace(blob, b"****"),
        stderr_bytes=(result.stderr_bytes or b"").replace(blob, b"****"),
    )


def sudo_wants_password(r: Result) -> bool:
    return r.exit_code == 1 and "password is required" in r.stderr


def sudo_refused_password(r: Result) -> bool:
    return r.exit_code == 1 and any(
        s in r.stderr for s in ("incorrect password", "Sorry, try again", "no password was provided")
    )
