"""DigitalOcean droplets by name, then SSH to them: ``connect().droplets.by_name('x').connect()``.

Built on DigitalOcean's official client ``pydo`` (the ``sshpool[digitalocean]`` extra), imported
on first use. The API's ``name=`` filter is case-insensitive, so every page of its answer is
checked again for the exact, case-sensitive name.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from sshpool import sync
from sshpool.core.target import configured_user
from sshpool.dsn import alias_for

__all__ = ["Client", "Droplet", "DropletNotFound", "Droplets", "connect"]

DEFAULT_ENDPOINT = "https://api.digitalocean.com"
_HINT = "pip install 'sshpool[digitalocean]'"
_MAX_PAGES = 1000


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
    token = token or os.environ.get("DIGITALOCEAN_TOKEN") or os.environ.get("DIGITALOCEAN_API_KEY")
    if not token:
        raise ValueError("no DigitalOcean API token: pass token=... or set DIGITALOCEAN_TOKEN")
    endpoint = (endpoint or os.environ.get("DIGITALOCEAN_API_URL") or DEFAULT_ENDPOINT).rstrip("/")
    try:
        import pydo
    except ImportError:
        raise ImportError(f"the droplets API needs pydo: {_HINT}") from None
    call_options: dict[str, Any] = {}
    if _loopback_http(endpoint):
        # pydo refuses a bearer token over plain http; allowed for a loopback endpoint only.
        call_options["enforce_https"] = False
    return Client(pydo.Client(token=token, endpoint=endpoint, **options), endpoint, call_options)


def _loopback_http(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        for page in range(1, _MAX_PAGES + 1):
            answer = self._api.droplets.list(page=page, per_page=200, **query, **self._options)
            items = answer.get("droplets") or []
            yield from items
            following = ((answer.get("links") or {}).get("pages") or {}).get("next")
            if not items or not following:
                return

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
        for net in (self.data.get("networks") or {}).get("v4") or []:
            if net.get("type") == "public" and net.get("ip_address"):
                return str(net["ip_address"])
        return None

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
