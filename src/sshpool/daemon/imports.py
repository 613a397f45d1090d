"""``POST /channels/import`` and ``sshpoold --import``: channels from an inventory.

The source is read in a worker thread (files, or DigitalOcean's API), planned against the
channels there are (:mod:`sshpool.inventory.plan`), and each added or replaced channel is started
as ``POST /channels`` starts one: the --allow-hosts check (a refusal skips that host, with the
reason), started without waiting for its connect, remembered in the store (source ``import``, all
in one transaction), one audit line each with the DSN's password masked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from sshpool.daemon.allowlist import check_allowed
from sshpool.daemon.answers import json_answer
from sshpool.daemon.endpoints import Endpoints
from sshpool.daemon.store import Store
from sshpool.dsn import DSN
from sshpool.errors import AliasInUseError, DSNError, HostNotAllowedError, RequestError
from sshpool.inventory import ImportSpec, Plan, from_fields, from_flag, plan, read_source
from sshpool.inventory.sshconfig import user_config

__all__ = ["IMPORT_BODY_LIMIT", "IMPORT_PATH", "ImportEndpoints", "check_servable", "import_at_start"]

IMPORT_PATH = "/channels/import"
#: Aliases the REST API cannot serve: ``POST /channels/import`` is the import, not a command on a
#: channel named ``import``.
RESERVED_ALIASES = frozenset({IMPORT_PATH.rsplit("/", 1)[1]})
#: The body limit of an import (an inventory of tens of thousands of hosts), instead of --body-limit.
IMPORT_BODY_LIMIT = 64 * 1024 * 1024

log = logging.getLogger("sshpool")


def _reserved(alias: str) -> str | None:
    if alias.casefold() in RESERVED_ALIASES:
        return (
            f"alias {alias!r} is reserved: POST {IMPORT_PATH} is the import endpoint, so a channel of "
            "that name could not run commands; pick another alias"
        )
    return None


def check_servable(dsn: DSN) -> DSN:
    """``dsn`` unchanged, or DSNError (a 400) when its alias is one the REST API cannot serve."""
    reason = _reserved(dsn.alias)
    if reason:
        raise DSNError(reason)
    return dsn


def _servable(todo: Plan) -> Plan:
    for dsn in [*todo.added, *(c.now for c in todo.changed)]:
        reason = _reserved(dsn.alias)
        if reason:
            todo = todo.refuse(dsn.alias, reason)
    return todo


class ImportEndpoints(Endpoints):
    async def import_channels(self, request: Request) -> Response:
        """Add channels from an inventory: an ssh_config, Ansible's JSON, DigitalOcean droplets.

        Idempotent: a host already there with the same DSN is kept; an alias that points
        elsewhere is reported as changed and replaced only with ``"replace": true``."""
        self.refuse_while_draining()
        spec = from_fields(await _json_body(request), under=user_config().parent)
        found = await asyncio.to_thread(read_source, spec)
        todo = await self._allowed(_servable(plan(found, self._existing(), replace=spec.replace)))
        done = await self._apply(request, todo)
        self.audit(request, "import", source=spec.describe(), **_counts(done))
        return await json_answer(done.answer())

    def _existing(self) -> list[DSN]:
        return [self.pool.get(alias).dsn for alias in self.pool.aliases()]

    async def _allowed(self, todo: Plan) -> Plan:
        for dsn in [*todo.added, *(c.now for c in todo.replaced)]:
            try:
                await check_allowed(dsn, self.state.allow_networks, self.state.settings)
            except HostNotAllowedError as exc:
                todo = todo.refuse(dsn.alias, exc.message)
        return todo

    async def _apply(self, request: Request, todo: Plan) -> Plan:
        started: list[DSN] = []
        for dsn in todo.added:
            try:
                await self.pool.start(dsn, wait=0)
            except AliasInUseError as exc:  # started by another request since the plan was made
                todo = todo.refuse(dsn.alias, exc.message)
                continue
            started.append(dsn)
            self.audit(request, "start", alias=dsn.alias, dsn=dsn.to_text(), via="import")
        for change in todo.replaced:
            await self.pool.update(change.was.alias, change.now, wait=0)
            started.append(change.now)
            self.audit(request, "update", alias=change.now.alias, dsn=change.now.to_text(), via="import")
        if self.state.store is not None and started:
            await asyncio.to_thread(self.state.store.put_many, started, "import")
        return todo


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise RequestError(
            f'the body is not valid JSON ({exc}); send {{"from": "ssh-config" | "ansible" | "digitalocean", ...}}'
        ) from None
    if not isinstance(doc, dict):
        raise RequestError('the body must be a JSON object like {"from": "ssh-config"}')
    return doc


def _counts(done: Plan) -> dict[str, Any]:
    return {
        "added": len(done.added),
        "replaced": len(done.replaced),
        "kept": len(done.kept),
        "changed": len(done.changed),
        "skipped": len(done.skipped),
    }


def import_at_start(store: Store, sources: Iterable[str]) -> None:
    """``--import SOURCE``, each planned against the stored channels before any starts; changed
    ones are kept as they are (``sshpoolctl import ... --replace`` replaces them). A source that
    cannot be read stops the start (RuntimeError naming it)."""
    for text in sources:
        try:
            spec: ImportSpec = from_flag(text)
            found = read_source(spec)
        except (RequestError, OSError) as exc:
            raise RuntimeError(f"--import {text}: {exc}") from None
        todo = _servable(plan(found, (s.dsn for s in store.load())))
        store.put_many(list(todo.added), "import")
        for change in todo.changed:
            log.warning("--import %s: %s now points at %s; kept as %s", text, change.now.alias, change.now, change.was)
        for skipped in todo.skipped:
            log.info("--import %s: skipped %s: %s", text, skipped.name, skipped.reason)
        log.info(
            "--import %s: %d added, %d kept, %d changed (not replaced), %d skipped",
            text,
            len(todo.added),
            len(todo.kept),
            len(todo.changed),
            len(todo.skipped),
        )
