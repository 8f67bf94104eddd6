"""The metric functions against brute force and hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from moneytrail.evaluate import metrics as M


def _brute_pairs(pred: list[int], true: list[int]) -> tuple[int, int, int]:
    tp = pp = tt = 0
    for i, j in itertools.combinations(range(len(pred)), 2):
        sp, st_ = pred[i] == pred[j], true[i] == true[j]
        tp += sp and st_
        pp += sp
        tt += st_
    return tp, pp, tt


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=30))
def test_cluster_scores_match_brute_force(items: list[tuple[int, int]]) -> None:
    pred = [a for a, _ in items]
    true = [b for _, b in items]
    cells: dict[tuple[int, int], int] = {}
    for a, b in items:
        cells[(a, b)] = cells.get((a, b), 0) + 1
    keys = list(cells)
    res = M.cluster_scores(np.array([k[0] for k in keys]), np.array([k[1] for k in keys]), np.array(list(cells.values())))
    tp, pp, tt = _brute_pairs(pred, true)
    assert res["pairwise_precision"] == (tp / pp if pp else 1.0)
    assert res["pairwise_recall"] == (tp / tt if tt else 1.0)
    n = len(items)
    bp = sum(sum(1 for j in range(n) if pred[j] == pred[i] and true[j] == true[i]) /
             sum(1 for j in range(n) if pred[j] == pred[i]) for i in range(n)) / n
    br = sum(sum(1 for j in range(n) if pred[j] == pred[i] and true[j] == true[i]) /
             sum(1 for j in range(n) if true[j] == true[i]) for i in range(n)) / n
    assert abs(res["bcubed_precision"] - bp) < 1e-9
    assert abs(res["bcubed_recall"] - br) < 1e-9


def test_cluster_scores_by_hand() -> None:
    # true persons A = {1,2,3}, B = {4,5}; predicted {1,2}, {3,4,5}
    res = M.cluster_scores(np.array(["s1", "s2", "s2"]), np.array(["A", "A", "B"]), np.array([2, 1, 2]))
    # pairs: predicted 1 + 3 = 4, true 3 + 1 = 4, both 1 (1-2) + 1 (4-5) = 2
    assert res["pairwise_precision"] == 0.5 and res["pairwise_recall"] == 0.5
    # B-cubed precision: items 1,2: 2/2; item 3: 1/3; items 4,5: 2/3 -> (2 + 1/3 + 4/3) / 5
    assert abs(res["bcubed_precision"] - (2 + 1 / 3 + 4 / 3) / 5) < 1e-12
    # B-cubed recall: items 1,2: 2/3; item 3: 1/3; items 4,5: 1 -> (4/3 + 1/3 + 2) / 5
    assert abs(res["bcubed_recall"] - (4 / 3 + 1 / 3 + 2) / 5) < 1e-12


def _brute_ap(y: list[int], s: list[float]) -> float:
    pos = sum(y)
    if pos == 0:
        return 1.0
    ap, prev_r = 0.0, 0.0
    for t in sorted(set(s), reverse=True):
        sel = [i for i in range(len(y)) if s[i] >= t]
        tp = sum(y[i] for i in sel)
        r = tp / pos
        ap += (r - prev_r) * tp / len(sel)
        prev_r = r
    return ap


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.5, 0.7, 1.0])), min_size=1, max_size=25))
def test_average_precision_matches_step_curve(rows: list[tuple[int, float]]) -> None:
    y = [a for a, _ in rows]
    s = [b for _, b in rows]
    assert abs(M.average_precision(np.array(y), np.array(s)) - _brute_ap(y, s)) < 1e-9


def test_average_precision_by_hand() -> None:
    # ranking: 1(+), 0.8(-), 0.6(+), 0.1(-): AP = (1/1 + 2/3) / 2
    assert abs(M.average_precision(np.array([1, 0, 1, 0]), np.array([1, .8, .6, .1])) - (1 + 2 / 3) / 2) < 1e-12


def test_precision_recall_f1_and_precision_at_k() -> None:
    r = M.precision_recall_f1(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    assert (r["precision"], r["recall"], r["f1"]) == (0.5, 0.5, 0.5)
    assert M.precision_at_k(np.array([1, 0, 1, 1]), 2, 10) == 0.5
    assert M.precision_at_k(np.array([1, 1, 0, 0]), 50, 2) == 1.0
