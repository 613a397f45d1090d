"""Inventory import: the hosts an ssh_config, an Ansible inventory or a DigitalOcean account
names, as channel DSNs, and the plan that compares them with the channels there are.

One module per source (:mod:`.sshconfig`, :mod:`.ansible`, :mod:`.droplets`), :mod:`.source`
to pick one, :mod:`.plan` for added / kept / changed / skipped. Nothing here starts a channel:
the daemon does, as it starts any other.
"""

from sshpool.inventory.plan import Change, Found, Plan, Skipped, plan
from sshpool.inventory.source import SOURCES, ImportSpec, from_fields, from_flag, read_source

__all__ = [
    "SOURCES",
    "Change",
    "Found",
    "ImportSpec",
    "Plan",
    "Skipped",
    "from_fields",
    "from_flag",
    "plan",
    "read_source",
]
