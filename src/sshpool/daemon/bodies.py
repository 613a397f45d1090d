"""Request bodies, one rule for all: a JSON content type -> JSON; a form with the key -> that
field; anything else (a form without the key too) -> the raw body as UTF-8 text, untouched.

Classic clients send the DSN or command raw with no content type; ``curl -d`` sends it
form-encoded; scripts send JSON. Every refusal is a RequestError (400) naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request

from sshpool.commands import ENV_NAME
from sshpool.defaults import MODES, NO_LIMIT_WORDS, UNSET, Timeout
from sshpool.errors import RequestError

__all__ = [
    "COMMAND_FIELDS",
    "Body",
    "CommandSpec",
    "command_spec",
    "command_timeout",
    "number",
    "query_body",
    "read_body",
]


@dataclass(frozen=True)
class Body:
    """The request body after the one rule: JSON, a form with the key, else raw UTF-8 text."""

    text: str
    fields: dict[str, Any]


async def read_body(request: Request, key: str, allowed: tuple[str, ...]) -> Body:
    raw = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or (ctype.startswith("application/") and ctype.endswith("+json")):
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise RequestError(f"the body is not valid JSON ({exc}); send {{{key!r}: ...}}".replace("'", '"')) from None
        if not isinstance(doc, dict):
            raise RequestError(f'the JSON body must be an object like {{"{key}": ...}}, not {type(doc).__name__}')
        unknown = sorted(set(doc) - {key, *allowed})
        if unknown:
            raise RequestError(f"unknown field {unknown[0]!r}; known fields: {', '.join((key, *allowed))}")
        value = doc.get(key)
        if not isinstance(value, str):
            raise RequestError(f"field {key!r} is required and must be a string")
        return Body(_nonempty(value, key), {k: v for k, v in doc.items() if k != key})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(f"the body is not UTF-8 text; send the {key} as UTF-8") from None
    if ctype == "application/x-www-form-urlencoded":
        form = parse_qs(text, keep_blank_values=True)
        if key in form:
            return Body(_nonempty(form[key][0], key), {})
    return Body(_nonempty(text, key), {})


def _nonempty(value: str, key: str) -> str:
    if not value:
        raise RequestError(f'empty {key}: send it as the body, as a form field {key}=..., or as JSON {{"{key}": ...}}')
    return value


def number(fields: dict[str, Any], name: str, *, minimum: float = 0.0) -> float | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < minimum:
        raise RequestError(f"field {name!r} must be a number of seconds >= {minimum:g}, or null")
    if value > 10**7:
        raise RequestError(f"field {name!r} is too large: at most 10000000 seconds")
    return float(value)


#: What a ``timeout`` may be, for the refusals to say.
_TIMEOUT_FORMS = 'a number of seconds above 0, "none" for no limit, or null for the daemon\'s --command-timeout'


def command_timeout(fields: dict[str, Any]) -> Timeout:
    """The ``timeout`` field: seconds (> 0); ``"none"`` (or ``"off"``) for no limit (None); absent
    or null for the daemon's ``--command-timeout`` (UNSET). 0 stays a refusal, as it always was."""
    value = fields.get("timeout")
    if value is None:
        return UNSET
    if isinstance(value, str):
        if value in NO_LIMIT_WORDS:
            return None
        raise RequestError(f"field 'timeout' must be {_TIMEOUT_FORMS}; got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value <= 0:
        raise RequestError(f"field 'timeout' must be {_TIMEOUT_FORMS}; got {value!r}")
    if value > 10**7:
        raise RequestError("field 'timeout' is too large: at most 10000000 seconds, or \"none\" for no limit")
    return float(value)


@dataclass(frozen=True)
class CommandSpec:
    """A command request: ``input`` is text (``input``) or bytes (``input_b64``, for binary
    stdin); ``pty`` asks for a terminal (``requiretty`` sudo, tools that want one); ``timeout``
    is seconds, None for no limit, UNSET for the daemon's default."""

    command: str
    timeout: Timeout
    input: str | bytes | AsyncIterable[bytes] | None
    env: dict[str, str] | None
    raw: bool
    pty: bool = False
    mode: str | None = None


COMMAND_FIELDS = ("timeout", "input", "input_b64", "env", "raw", "pty", "mode")
#: The query parameters of the streamed-stdin form (the body is the stdin, so no ``input`` here).
QUERY_FIELDS = ("command", "timeout", "env", "raw", "pty", "mode")


def query_body(query: list[tuple[str, str]]) -> Body:
    """The streamed-stdin form's command and options, from the query string:
    ``?command=tar+x&timeout=600&env=LANG=C&raw=true``. Values are typed as the JSON fields are,
    so one rule (:func:`command_spec`) checks both forms."""
    fields: dict[str, Any] = {}
    env: dict[str, str] = {}
    for name, value in query:
        if name not in QUERY_FIELDS:
            raise RequestError(
                f"unknown query parameter {name!r}; with a streamed stdin body the known ones are "
                f"{', '.join(QUERY_FIELDS)} (the body is the stdin)"
            )
        if name == "env":
            key, eq, val = value.partition("=")
            if not eq:
                raise RequestError(f"query parameter env={value!r}: give NAME=VALUE, like env=LANG=C")
            env[key] = val
        elif name in fields:
            raise RequestError(f"query parameter {name!r} given twice")
        elif name == "timeout":
            try:
                fields[name] = None if value in ("", "null") else value if value in NO_LIMIT_WORDS else float(value)
            except ValueError:
                raise RequestError(
                    f"query parameter timeout={value!r} must be a number of seconds, or none for no limit"
                ) from None
        elif name in ("raw", "pty"):
            if value.lower() not in ("true", "false", "1", "0"):
                raise RequestError(f"query parameter {name}={value!r} must be true or false")
            fields[name] = value.lower() in ("true", "1")
        else:
            fields[name] = value
    if env:
        fields["env"] = env
    command = fields.pop("command", "")
    if not command:
        raise RequestError(
            "the command goes in the query string with a streamed stdin body: "
            "POST /channels/<alias>?command=... with Content-Type: application/octet-stream"
        )
    return Body(command, fields)


def command_spec(body: Body) -> CommandSpec:
    f = body.fields
    if "\x00" in body.text:
        raise RequestError("the command contains a NUL character")
    timeout = command_timeout(f)
    stdin: str | bytes | AsyncIterable[bytes] | None = f.get("input")
    if stdin is not None and not isinstance(stdin, str):
        raise RequestError("field 'input' must be a string (sent to the command's stdin), or null")
    if f.get("input_b64") is not None:
        if stdin is not None:
            raise RequestError("give either 'input' (text) or 'input_b64' (base64 bytes), not both")
        stdin = _base64(f["input_b64"])
    env = f.get("env")
    if env is not None:
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise RequestError('field \'env\' must be an object of string values, like {"LANG": "C"}')
        bad = [k for k in env if not ENV_NAME.match(k)]
        if bad:
            raise RequestError(f"field 'env': invalid variable name {bad[0]!r}; use letters, digits and '_'")
    raw = f.get("raw", False)
    if not isinstance(raw, bool):
        raise RequestError("field 'raw' must be true or false")
    pty = f.get("pty", False)
    if not isinstance(pty, bool):
        raise RequestError("field 'pty' must be true or false")
    mode = f.get("mode")
    if mode is not None and mode not in MODES:
        raise RequestError('field \'mode\' must be "exec" (a session per command), "shell" (a warm shell) or null')
    return CommandSpec(body.text, timeout, stdin, env or None, raw, pty, mode)


def _base64(value: object) -> bytes:
    if not isinstance(value, str):
        raise RequestError("field 'input_b64' must be a base64 string (standard alphabet, padded), or null")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("field 'input_b64' is not valid base64 (standard alphabet, padded)") from None
