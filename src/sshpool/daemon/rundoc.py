"""The OpenAPI description of a rolling, grouped fan-out (``POST /run``'s ``parallel``, ``halt``
and ``group``, and the grouped answer), beside :mod:`sshpool.daemon.apidoc`."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["ROLLOUT_PROPS", "fanout_answer"]

_COUNT: Final = {"type": "integer", "minimum": 1}

ROLLOUT_PROPS: Final[dict[str, Any]] = {
    "parallel": {
        "anyOf": [_COUNT, {"type": "null"}],
        "description": "run at most this many channels at once, started in alias order "
        "(absent or null: all at once, up to the daemon's --fanout-limit, which also caps this)",
    },
    "halt": {
        "anyOf": [{"type": "string", "enum": ["first_failure"]}, _COUNT, {"type": "null"}],
        "description": "start no more channels once this many have failed (first_failure: 1); a failure is a "
        'non-zero exit, a signal, a timeout or an error. The channels not started answer error "skipped", '
        "with an exception saying why, and nothing runs on them (absent or null: never halt)",
    },
    "group": {
        "type": "boolean",
        "description": 'answer {"groups": [...], "results": {...}}: channels with the same stdout, stderr, exit '
        "code and error in one group, biggest first (ties: the group whose first alias comes first)",
    },
}


def fanout_answer(result: dict[str, Any]) -> dict[str, Any]:
    """The 200 answer of ``POST /run``: each alias's ``result``, or, with ``group``, the groups and
    each alias's result without its output."""
    group = {
        "type": "object",
        "required": ["aliases", "folded", "result"],
        "properties": {
            "aliases": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "in alias order"},
            "folded": {"type": "string", "description": "the aliases as a compact host list: web[01-03,05]"},
            "result": {**result, "description": "the first alias's result, output included"},
        },
    }
    grouped = {
        "type": "object",
        "required": ["groups", "results"],
        "properties": {
            "groups": {"type": "array", "items": group},
            "results": {"type": "object", "additionalProperties": result, "description": "by alias, without output"},
        },
        "additionalProperties": False,
    }
    per_alias = {"type": "object", "additionalProperties": result, "description": "result per alias"}
    return {"anyOf": [per_alias, grouped]}
