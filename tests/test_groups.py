"""Grouped output's values: channels that answered alike in one group, biggest first, and host
lists folded as clush -b folds them."""

from __future__ import annotations

import random
import re

import pytest

from sshpool.groups import Group, fold, group_by


@pytest.mark.parametrize(
    ("names", "folded"),
    [
        (["web01", "web02", "web03", "web05"], "web[01-03,05]"),
        (["web1", "web2", "web3"], "web[1-3]"),
        (["web01"], "web01"),
        (["db"], "db"),
        (["web01", "web02", "db1", "db2", "db3", "mail"], "web[01-02],db[1-3],mail"),
        (["web05", "web01", "web03", "web02"], "web[01-03,05]"),
        (["web01", "web1"], "web01,web1"),
        (["web09", "web10", "web11"], "web[09-11]"),
        (["node1-eth0", "node2-eth0", "node2-eth1"], "node1-eth0,node2-eth[0-1]"),
        (["r1a", "r2a", "r1b"], "r[1-2]a,r1b"),
        (["web2", "web2", "web1"], "web[1-2]"),
        (["web001", "web002", "web010", "web100"], "web[001-002,010,100]"),
        ([], ""),
    ],
)
def test_host_lists_fold_like_clush(names: list[str], folded: str) -> None:
    assert fold(names) == folded


def unfold(text: str) -> set[str]:
    """The names a folded list stands for (the inverse, to check fold against)."""
    names: set[str] = set()
    for term in re.findall(r"[^,\[]*(?:\[[^\]]*\][^,]*)?", text):
        if not term:
            continue
        m = re.fullmatch(r"(.*)\[(.*)\](.*)", term)
        if m is None:
            names.add(term)
            continue
        for part in m[2].split(","):
            lo, _, hi = part.partition("-")
            for n in range(int(lo), int(hi or lo) + 1):
                names.add(f"{m[1]}{n:0{len(lo)}d}{m[3]}")
    return names


def test_a_folded_list_stands_for_exactly_the_names_given() -> None:
    rng = random.Random(19)
    for _ in range(300):
        names = [
            f"{rng.choice(['web', 'db', 'x-'])}{rng.randrange(0, 40):0{rng.choice([1, 2, 3])}d}{rng.choice(['', 'b'])}"
            for _ in range(rng.randrange(1, 30))
        ]
        assert unfold(fold(names)) == set(names), names


def test_channels_that_answered_alike_share_a_group_biggest_first_ties_by_first_alias() -> None:
    answers = {"web01": "b", "web02": "a", "web03": "b", "web04": "c", "web05": "a", "web06": "d"}
    groups = group_by(answers, key=lambda x: x)
    assert [(g.aliases, g.outcome) for g in groups] == [
        (("web01", "web03"), "b"),
        (("web02", "web05"), "a"),
        (("web04",), "c"),
        (("web06",), "d"),
    ]
    assert [g.folded for g in groups] == ["web[01,03]", "web[02,05]", "web04", "web06"]


def test_a_group_keeps_the_first_aliases_outcome() -> None:
    answers = {"b": {"out": "x", "took": 1}, "a": {"out": "x", "took": 2}}
    assert group_by(answers, key=lambda d: d["out"]) == [Group(("b", "a"), {"out": "x", "took": 1})]
