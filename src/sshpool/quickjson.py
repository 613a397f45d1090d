"""JSON for the one-shot path, on the C codec alone.

``import json`` loads ``re`` and ``enum`` (~5 ms of a ~25 ms ``sshpoolctl run``), for what the
C accelerator ``_json``, which json itself drives, does alone: scan one document, quote one
string. So :func:`loads` and :func:`dumps` drive it directly, and fall back to ``json`` on an
interpreter without it. Output meant for people (``--json``, indented) still goes through json.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - an interpreter without the C accelerator
    _json = None  # type: ignore[assignment]

__all__ = ["dumps", "loads"]

_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}
_SPACE = " \t\n\r"


class _Context:
    """The attributes ``_json.make_scanner`` reads off a JSONDecoder, with json.loads's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


#: typeshed types the context as a scanner; the C code reads the attributes above off it.
_scan: Callable[[str, int], tuple[Any, int]] | None = _json.make_scanner(_Context()) if _json else None  # type: ignore[arg-type]


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """``json.loads(data)`` for UTF-8 text; a ValueError for what is not one JSON document."""
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    if _scan is None:  # pragma: no cover
        import json  # noqa: PLC0415 - only without the accelerator

        return json.loads(text)
    start = len(text) - len(text.lstrip(_SPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        raise ValueError(f"no JSON value at character {start}") from None
    if text[end:].strip(_SPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def dumps(value: Any) -> str:
    """Compact, ASCII-only JSON of dicts (string keys), lists, strings, numbers, booleans and None."""
    if _json is None:  # pragma: no cover
        import json  # noqa: PLC0415

        return json.dumps(value, separators=(",", ":"))
    return "".join(_parts(value))


def _parts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [_json.encode_basestring_ascii(value)]
    if value is None or isinstance(value, bool):
        return ["null" if value is None else "true" if value else "false"]
    if isinstance(value, int):
        return [int.__repr__(value)]
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a JSON number")
        return [float.__repr__(value)]
    if isinstance(value, dict):
        out = ["{"]
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys are strings, not {type(key).__name__}")
            out += [*([","] if i else []), _json.encode_basestring_ascii(key), ":", *_parts(item)]
        return [*out, "}"]
    if isinstance(value, (list, tuple)):
        out = ["["]
        for i, item in enumerate(value):
            out += [*([","] if i else []), *_parts(item)]
        return [*out, "]"]
    raise TypeError(f"{type(value).__name__} is not JSON")
