"""DigitalOcean droplets by name, then SSH to them: ``connect().droplets.by_name('x').connect()``.

Built on DigitalOcean's official client ``pydo`` (the ``sshpool[digitalocean]`` extra), imported
on first use, as :mod:`sshpool.inventory.droplets` builds it for the daemon's import. The API's
``name=`` filter is case-insensitive, so every page of its answer is checked again for the exact,
case-sensitive name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sshpool import sync
from sshpool.core.target import configured_user
from sshpool.dsn import alias_for
from sshpool.inventory.droplets import api_client, loopback_http, pages, public_ipv4

__all__ = ["Client", "Droplet", "DropletNotFound", "Droplets", "connect"]

_loopback_http = loopback_http  # the rule plain http follows, shared with the daemon's import


class DropletNotFound(KeyError):
    """No droplet has that exact name (a KeyError, so ``except KeyError`` works)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no droplet named {self.name!r} (names are case-sensitive)"


def connect(token: str | None = None, *, endpoint: str | None = None, **options: Any) -> Client:
    """A DigitalOcean API client. ``token``: else ``DIGITALOCEAN_TOKEN``, else
    ``DIGITALOCEAN_API_KEY``. ``endpoint``: else ``DIGITALOCEAN_API_URL``, else the public API.
    ``options`` go to ``pydo.Client`` (``retry_total=``, ``timeout=``...)."""
    return Client(*api_client(token, endpoint, **options))


class Client:
    """The API client: ``.droplets`` here, every other pydo operation on ``.api``."""

    def __init__(self, api: Any, endpoint: str, call_options: dict[str, Any]) -> None:
        self.api = api
        self.endpoint = endpoint
        self.droplets = Droplets(api, call_options)

    def __repr__(self) -> str:
        return f"<digitalocean.Client {self.endpoint}>"


class Droplets:
    def __init__(self, api: Any, call_options: dict[str, Any]) -> None:
        self._api = api
        self._options = call_options

    def _pages(self, **query: Any) -> Iterator[dict[str, Any]]:
        return pages(self._api, self._options, **query)

    def list(self) -> list[Droplet]:
        """Every droplet of the account (all pages)."""
        return [Droplet(d) for d in self._pages()]

    def get(self, droplet_id: int) -> Droplet:
        answer = self._api.droplets.get(droplet_id, **self._options)
        return Droplet(answer["droplet"])

    def by_name(self, name: str) -> Droplet:
        """The one droplet called exactly ``name``; KeyError if none, ValueError if several."""
        if not name:
            raise ValueError("a droplet name is needed")
        found = [d for d in self._pages(name=name) if d.get("name") == name]
        if not found:
            raise DropletNotFound(name)
        if len(found) > 1:
            ids = ", ".join(str(d.get("id")) for d in found)
            raise ValueError(f"{len(found)} droplets are named {name!r} (ids {ids}): use droplets.get(id)")
        return Droplet(found[0])


class Droplet:
    """One droplet as the API described it (``.data`` holds the whole answer)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def ip_address(self) -> str | None:
        """The first public IPv4 address, None while the droplet has none."""
        return public_ipv4(self.data)

    def __repr__(self) -> str:
        return f"<Droplet {self.id} {self.name!r} {self.ip_address or 'no public IPv4'}>"

    def connect(self, interactive: bool = False, user: str | None = None, **options: Any) -> sync.Connection:
        """SSH to the droplet (a sync :class:`sshpool.sync.Connection`). The user: ``user``,
        else ssh_config's ``User`` for the address, else root; the port: ssh_config's, else 22.
        An unknown host key is accepted and recorded (a new droplet's key is never known) unless
        ``host_key_policy=`` says otherwise."""
        ip = self.ip_address
        if ip is None:
            raise ValueError(f"droplet {self.name!r} ({self.id}) has no public IPv4 address yet")
        alias = alias_for(self.name, "droplet")
        options.setdefault("host_key_policy", "accept-new")
        return sync.connect(
            f"{alias}://{ip}", user=user or configured_user(ip) or "root", interactive=interactive, **options
        )
