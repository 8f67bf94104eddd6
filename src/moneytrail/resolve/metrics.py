"""Quality of a resolution against a truth: pairwise and B-cubed precision, recall, F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def scores(items: Iterable[tuple[Hashable, Hashable]]) -> dict[str, float]:
    """Scores of (predicted cluster, true cluster) assignments, one per record."""
    cells: Counter[tuple[Hashable, Hashable]] = Counter()
    pred: Counter[Hashable] = Counter()
    true: Counter[Hashable] = Counter()
    n = 0
    for p, t in items:
        cells[(p, t)] += 1
        pred[p] += 1
        true[t] += 1
        n += 1
    tp = sum(_pairs(c) for c in cells.values())
    pp = sum(_pairs(c) for c in pred.values())
    tt = sum(_pairs(c) for c in true.values())
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    b_p = sum(c * c / pred[p] for (p, _), c in cells.items()) / n if n else 1.0
    b_r = sum(c * c / true[t] for (_, t), c in cells.items()) / n if n else 1.0
    return {
        "records": n,
        "true_pairs": tt,
        "predicted_pairs": pp,
        "pairwise_precision": round(precision, 5),
        "pairwise_recall": round(recall, 5),
        "pairwise_f1": round(_f1(precision, recall), 5),
        "bcubed_precision": round(b_p, 5),
        "bcubed_recall": round(b_r, 5),
        "bcubed_f1": round(_f1(b_p, b_r), 5),
    }
