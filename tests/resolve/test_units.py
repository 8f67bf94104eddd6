from __future__ import annotations

import duckdb
import pytest

from moneytrail.resolve.clustering import cluster
from moneytrail.resolve.deterministic import name_groups
from moneytrail.resolve.metrics import scores
from moneytrail.resolve.names import install_macros, names_compatible

SAME = [
    ("john smith", "smith john"),
    ("j a smith", "john andrew smith"),
    ("ma santos reyes", "maria santos"),
    ("jhn morales", "john morales"),
    ("jose garcia", "garcia jose"),
    ("smith", "john smith"),
]
DIFFERENT = [
    ("john smith", "jose smith"),
    ("maria santos", "jose santos"),
    ("john smith", "peter brown"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_compatible_names(a: str, b: str) -> None:
    assert names_compatible(a, b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_incompatible_names(a: str, b: str) -> None:
    assert not names_compatible(a, b)


def test_sql_macro_agrees_with_python() -> None:
    con = duckdb.connect()
    install_macros(con)
    for a, b in [*SAME[:3], *DIFFERENT]:
        got = con.execute(
            "SELECT mt_names_compatible(string_split(?, ' '), string_split(?, ' '))", [a, b]
        ).fetchall()[0][0]
        assert got == names_compatible(a, b), (a, b)


def test_name_groups_chain_variants_but_split_people() -> None:
    assert name_groups(["j santos", "j satnos", "josefina santos", "josefina stntos"]) == 1
    assert name_groups(["maria santos", "jose santos"]) == 2


def _two_groups(bridge: list[tuple[int, int]]) -> list[int]:
    """Records 1-5 are one person (strong links), 6-10 another; every record has its
    own profile (pid = rid); `bridge` holds scored links between profiles."""
    strong_l = [1, 1, 1, 1, 6, 6, 6, 6]
    strong_r = [2, 3, 4, 5, 7, 8, 9, 10]
    scored = [(a, b, 20.0) for a, b in bridge]
    res = cluster(10, list(range(11)), strong_l, strong_r, scored, chain_large=3, chain_min_records=2)
    return res.root.tolist()


def test_chaining_guard_refuses_a_single_bridge_between_large_groups() -> None:
    root = _two_groups([(5, 6)])
    assert root[1] != root[6]


def test_chaining_guard_accepts_support_from_several_records() -> None:
    root = _two_groups([(4, 7), (5, 6)])
    assert root[1] == root[6]


def test_small_groups_merge_on_one_link() -> None:
    res = cluster(3, [0, 1, 2, 3], [1], [2], [(2, 3, 10.0)], chain_large=3, chain_min_records=2)
    assert res.root[1] == res.root[3]


def test_frozen_groups_never_merge() -> None:
    # records 1 and 2 are existing subjects; 3 is new and looks like both
    res = cluster(
        3, [0, 1, 2, 3], [], [], [(1, 3, 10.0), (2, 3, 9.0)],
        chain_large=3, chain_min_records=2, initial=[0, 1, 2, 0], frozen={1, 2},
    )
    assert res.root[1] != res.root[2]
    assert res.root[3] == res.root[1]


def test_scores_perfect_and_split() -> None:
    assert scores([(1, "a"), (1, "a"), (2, "b")])["pairwise_f1"] == 1.0
    s = scores([(1, "a"), (2, "a")])
    assert s["pairwise_recall"] == 0.0 and s["bcubed_precision"] == 1.0
