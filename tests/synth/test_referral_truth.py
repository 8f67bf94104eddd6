"""The truth's aligned pairs follow the alignment rule's definition, not only the generator's intent."""

from __future__ import annotations

import numpy as np

from moneytrail.synth.ledger import Ledger
from moneytrail.synth.referrals import Spec, Subject, _align

T = 1_700_000_000
H = 3600


def _ledger(rows: list[tuple[int, int, int]]) -> Ledger:
    frm, to, ts = (np.array(x, dtype=np.int64) for x in zip(*rows, strict=True))
    return Ledger(c={"frm": frm, "to": to, "ts": ts})


def test_every_session_within_the_window_of_a_payment_between_the_two_people_is_aligned() -> None:
    ledger = _ledger([
        (1, 2, T),                 # 0: the payment a video call was generated for
        (1, 2, T + 10 * H),        # 1: a chat two hours later was not generated for it
        (1, 2, T + 20 * H),        # 2: a chat three hours and one second later
        (1, 2, T + 30 * H + H),    # 3: paid an hour after a call started (reverse order)
        (1, 3, T + 40 * H),        # 4: paid someone else before their session
        (1, 2, T + 50 * H - 600),  # 5: two payments before one call: the nearer one counts
        (1, 2, T + 50 * H - 7200),  # 6
    ])
    sessions: list[tuple[int, int, str, int, int | None, int | None]] = [
        (0, 1, "video_call", T + 600, None, 0),
        (0, 1, "chat", T + 12 * H, None, None),
        (0, 1, "chat", T + 23 * H + 1, None, None),
        (1, 0, "video_call", T + 30 * H, None, None),
        (0, 1, "video_call", T + 40 * H + 60, None, None),
        (0, 1, "video_call", T + 50 * H, None, None),
    ]
    spec = Spec("vidchat", "live_streaming_abuse", [Subject(1, "suspect_viewer"), Subject(2, "suspect_facilitator")],
                sessions)
    _align([spec], ledger)
    assert spec.aligned == {0: [0], 1: [1], 3: [3], 5: [5]}


def test_a_payment_at_the_window_edge_is_aligned_both_ways() -> None:
    ledger = _ledger([(1, 2, T), (2, 1, T + 10 * H + 3 * H)])
    sessions: list[tuple[int, int, str, int, int | None, int | None]] = [
        (0, 1, "chat", T + 3 * H, None, None),      # starts exactly three hours after the payment
        (0, 1, "chat", T + 10 * H, None, None),     # the (reverse) payment exactly three hours after
    ]
    spec = Spec("linkup", "live_streaming_abuse", [Subject(1, "suspect_viewer"), Subject(2, "suspect_facilitator")],
                sessions)
    _align([spec], ledger)
    assert spec.aligned == {0: [0], 1: [1]}
