from __future__ import annotations

from typing import Any

import duckdb

from moneytrail.resolve import explain_link, parse_key, render_link
from moneytrail.resolve.metrics import scores

from .helpers import subject_of

Resolved = tuple[duckdb.DuckDBPyConnection, Any, Any]


def test_every_record_has_one_subject(resolved: Resolved) -> None:
    con, report, _ = resolved
    n_parties = con.execute("SELECT count(*) FROM parties").fetchall()[0][0]
    n_refs = con.execute("SELECT count(*) FROM referral_subjects").fetchall()[0][0]
    n, distinct = con.execute(
        "SELECT count(*), count(DISTINCT (provider, record_id, party)) FROM subject_records"
    ).fetchall()[0]
    assert n == distinct == n_parties + n_refs == report.records


def test_strong_ids_and_name_variants_link_the_offender(resolved: Resolved) -> None:
    con, _, _ = resolved
    keys = ["RemitX:X1:sender", "WalletX:W1:payer", "CardX:K1:cardholder", "VidChat:R-X1#s1:s1"]
    assert len({subject_of(con, k) for k in keys}) == 1


def test_phone_notations_link_the_facilitator(resolved: Resolved) -> None:
    con, _, _ = resolved
    assert subject_of(con, "RemitX:X1:receiver") == subject_of(con, "RemitY:Y1:receiver")


def test_shared_payout_agent_phone_is_listed_and_does_not_link(resolved: Resolved) -> None:
    con, report, _ = resolved
    rows = con.execute(
        "SELECT n_records, n_names, reason FROM shared_identifiers WHERE kind = 'phone' AND value = '+639990000000'"
    ).fetchall()
    assert rows and rows[0][0] >= 5 and rows[0][1] >= 5
    subjects = {subject_of(con, f"RemitY:Y-agent-{i}:receiver") for i in range(5)}
    assert len(subjects) == 5
    assert report.shared_identifiers >= 1


def test_same_common_name_different_people_stay_apart(resolved: Resolved) -> None:
    con, _, _ = resolved
    assert subject_of(con, "RemitX:X-jm1:sender") != subject_of(con, "RemitX:X-jm2:sender")


def test_transliteration_order_and_typos_link(resolved: Resolved) -> None:
    con, _, _ = resolved
    assert subject_of(con, "RemitX:X-jg1:sender") == subject_of(con, "WalletX:W-jg2:payer")
    assert subject_of(con, "RemitX:X-jr1:sender") == subject_of(con, "RemitY:Y-jr2:sender")


def test_rare_exact_name_links_across_providers(resolved: Resolved) -> None:
    """'OKONKWO Chidiebere' (remittance) and 'chidiebere okonkwo' (card): same rare name,
    nothing disagreeing, nothing else in common — the subject-level rare-name evidence."""
    con, _, _ = resolved
    assert subject_of(con, "RemitX:X-ok0:sender") == subject_of(con, "CardX:K-ok0:cardholder")


def test_receivers_paid_by_the_same_payer_link(resolved: Resolved) -> None:
    """'Marisol Dalisay' and 'Ma. Dalisay-Reyes', no phone, both paid by one consumer."""
    con, _, _ = resolved
    assert subject_of(con, "RemitX:X-md0:sender") == subject_of(con, "RemitY:Y-md0:sender")
    assert subject_of(con, "RemitX:X-md0:receiver") == subject_of(con, "RemitY:Y-md0:receiver")


def test_merchants_resolve_by_merchant_id_only(resolved: Resolved) -> None:
    con, _, _ = resolved
    rows = con.execute(
        """
        SELECT count(DISTINCT s.subject_id), count(DISTINCT p.account) FROM parties p
        JOIN subject_records s USING (provider, record_id, party) WHERE p.party = 'merchant'
        """
    ).fetchall()[0]
    assert rows[0] == rows[1]


def test_subject_ids_are_ranked_by_smallest_record_key(resolved: Resolved) -> None:
    con, _, _ = resolved
    rows = con.execute(
        "SELECT subject_id, min((provider, record_id, party)) AS k FROM subject_records GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows[0][0] == "S" + "1".rjust(len(rows[0][0]) - 1, "0")
    firsts = [r[1] for r in rows]
    assert firsts == sorted(firsts)


def test_quality_on_the_sample_population(resolved: Resolved) -> None:
    con, report, pop = resolved
    truth = {(a, b, c): d for a, b, c, d in pop.truth}
    rows = con.execute(
        "SELECT s.subject_id, s.provider, s.record_id, s.party, r.side FROM subject_records s "
        "JOIN resolve_records r USING (provider, record_id, party)"
    ).fetchall()
    senders = scores((sid, truth[(p, r, q)]) for sid, p, r, q, side in rows if side == "from" and (p, r, q) in truth)
    assert senders["pairwise_precision"] >= 0.98
    assert senders["pairwise_f1"] >= 0.95
    assert report.blocked_pairs < 40 * report.profiles  # near-linear


def test_explanation_lists_levels_weights_and_chain(resolved: Resolved) -> None:
    con, _, _ = resolved
    expl = explain_link(con, "RemitX:X1:sender", "VidChat:R-X1#s1:s1")
    assert expl.same_subject
    comps = {c for c, _, _ in expl.comparisons}
    assert {"name", "dob", "phone", "country"} <= comps
    levels = {c: lvl for c, lvl, _ in expl.comparisons}
    assert levels["name"] == "same name (any token order)"
    assert levels["dob"] == "same date of birth"
    assert expl.match_weight is not None and expl.match_probability is not None
    assert ("phone", "+61400111222") in expl.shared_identifiers
    far = explain_link(con, "CardX:K1:cardholder", "RemitX:X1:sender")
    assert far.same_subject and far.chain
    assert far.chain[0].a == "CardX:K1:cardholder" and far.chain[-1].b == "RemitX:X1:sender"
    apart = explain_link(con, "RemitX:X-jm1:sender", "RemitX:X-jm2:sender")
    assert not apart.same_subject and not apart.chain
    assert apart.match_probability is not None and apart.match_probability < 0.5
    render_link(far)  # renders without error
    assert expl.as_dict()["same_subject"] is True


def test_parse_key_splits_on_first_and_last_colon() -> None:
    assert parse_key("VidChat:R-1:x#s1:s1") == ("VidChat", "R-1:x#s1", "s1")
