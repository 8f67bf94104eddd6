"""The metrics, as pure functions over numpy arrays.

Conventions (documented in docs/evaluate.md): a ratio whose denominator is
zero is vacuously perfect (1.0) when there was nothing to find or nothing was
claimed wrongly, so that a perfect output scores 1.0 everywhere; F1 of two
zeros is 0.
"""

from __future__ import annotations

import numpy as np


def ratio(num: float, den: float, empty: float = 1.0) -> float:
    return float(num) / float(den) if den else empty


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if (p + r) > 0 else 0.0


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall step curve (as scikit-learn computes it; ties share a threshold)."""
    y = np.asarray(y, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    n_pos = int(y.sum())
    if n_pos == 0:
        return 1.0
    order = np.argsort(-score, kind="stable")
    s, t = score[order], y[order]
    tps = np.cumsum(t)
    fps = np.cumsum(1 - t)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # end of each run of equal scores
    tp, fp = tps[last], fps[last]
    precision = tp / (tp + fp)
    recall = tp / n_pos
    prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev) * precision))


def precision_recall_f1(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, bool)
    pred = np.asarray(pred, bool)
    tp = int((y & pred).sum())
    fp = int((~y & pred).sum())
    fn = int((y & ~pred).sum())
    p = ratio(tp, tp + fp, 1.0 if (tp + fn) == 0 else 0.0)
    r = ratio(tp, tp + fn)
    return {"precision": p, "recall": r, "f1": f1(p, r), "tp": tp, "fp": fp, "fn": fn}


def _sizes(keys: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """For each row, the total weight of all rows sharing its key."""
    _, inv = np.unique(keys, return_inverse=True)
    tot = np.bincount(inv, weights=weights)
    return tot[inv]


def cluster_scores(pred: np.ndarray, true: np.ndarray, n: np.ndarray) -> dict[str, float]:
    """Pairwise and B-cubed scores from the contingency cells of a clustering.

    Each row is a cell: predicted cluster id, true cluster id and the number of
    items in both. Pairs are counted from cell and cluster sizes (n choose 2),
    never enumerated, so this scales to millions of items.
    """
    n = np.asarray(n, dtype=np.float64)
    items = float(n.sum())
    if items == 0:
        return {"items": 0, "pairwise_precision": 1.0, "pairwise_recall": 1.0, "pairwise_f1": 1.0,
                "bcubed_precision": 1.0, "bcubed_recall": 1.0, "bcubed_f1": 1.0}
    n_s = _sizes(np.asarray(pred), n)
    n_p = _sizes(np.asarray(true), n)
    tp = float(np.sum(n * (n - 1) / 2))
    _, first_s = np.unique(np.asarray(pred), return_index=True)
    _, first_p = np.unique(np.asarray(true), return_index=True)
    pred_pairs = float(np.sum(n_s[first_s] * (n_s[first_s] - 1) / 2))
    true_pairs = float(np.sum(n_p[first_p] * (n_p[first_p] - 1) / 2))
    pp = ratio(tp, pred_pairs)
    pr = ratio(tp, true_pairs)
    bp = float(np.sum(n * n / n_s) / items)
    br = float(np.sum(n * n / n_p) / items)
    return {
        "items": int(items), "true_pairs": int(true_pairs), "predicted_pairs": int(pred_pairs),
        "pairwise_precision": pp, "pairwise_recall": pr, "pairwise_f1": f1(pp, pr),
        "bcubed_precision": bp, "bcubed_recall": br, "bcubed_f1": f1(bp, br),
    }


def precision_at_k(hits_in_rank_order: np.ndarray, k: int, n_relevant: int) -> float:
    """Share of hits among the first k; the denominator is capped by how many relevant items exist."""
    h = np.asarray(hits_in_rank_order, bool)[:k]
    den = min(k, len(hits_in_rank_order), n_relevant)
    return ratio(int(h[:den].sum()) if den < k else int(h.sum()), den)
