"""``sshpoolctl import SOURCE [FILE]``: channels from an inventory, through POST /channels/import.

An Ansible inventory is read here (a file, or ``-`` for stdin) and sent as it is: the daemon reads
it, so a file that is not an inventory is refused by the one rule the API has. An ssh-config FILE
is a path on the daemon's machine, under the daemon user's ~/.ssh.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sshpool.client import AsyncDaemonClient
from sshpool.ctl.say import EXIT_ERROR, emit_json, say

__all__ = ["IMPORT_SOURCES", "import_lines", "verb_import"]

IMPORT_SOURCES = ("ssh-config", "ansible", "digitalocean")


def _refusal(args: argparse.Namespace) -> str | None:
    if args.source == "ansible" and not args.file:
        return "import ansible needs a FILE: the JSON of `ansible-inventory -i INVENTORY --list` (- for stdin)"
    if args.source == "digitalocean" and args.file:
        return "import digitalocean takes no FILE (the daemon asks the API); --tag TAG picks droplets by tag"
    if args.tag is not None and args.source != "digitalocean":
        return "--tag goes with import digitalocean"
    if args.with_passwords and args.source != "ansible":
        return "--with-passwords goes with import ansible"
    return None


async def verb_import(client: AsyncDaemonClient, args: argparse.Namespace) -> int:
    why = _refusal(args)
    if why:
        say(why)
        return EXIT_ERROR
    inventory = None
    if args.source == "ansible":
        try:
            inventory = sys.stdin.read() if args.file == "-" else _read(Path(args.file))
        except (OSError, UnicodeDecodeError) as exc:
            say(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}")
            return EXIT_ERROR
    answer = await client.import_channels(
        args.source,
        path=args.file if args.source == "ssh-config" else None,
        inventory=inventory,
        tag=args.tag,
        replace=args.replace,
        with_passwords=args.with_passwords,
    )
    if args.json:
        emit_json(answer)
    else:
        for line in import_lines(answer):
            print(line)
    return 0


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")  # a one-shot verb: nothing else waits on the loop


def import_lines(answer: dict[str, Any]) -> list[str]:
    """One line per host, ``WHAT<TAB>NAME<TAB>DETAIL``, then the counts."""
    lines = [f"added\t{e['alias']}\t{e['dsn']}" for e in answer["added"]]
    lines += [f"kept\t{e['alias']}\t{e['dsn']}" for e in answer["kept"]]
    for e in answer["changed"]:
        note = "replaced; was" if e["replaced"] else "not replaced (--replace replaces it); is"
        lines.append(f"changed\t{e['alias']}\t{e['dsn']} ({note} {e['was']})")
    lines += [f"skipped\t{e.get('alias') or e.get('host')}\t{e['reason']}" for e in answer["skipped"]]
    counts = ", ".join(f"{len(answer[k])} {k}" for k in ("added", "kept", "changed", "skipped"))
    return [*lines, counts]
