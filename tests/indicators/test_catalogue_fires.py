"""Each indicator fires on a hand-made case and stays quiet on a near miss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from moneytrail.indicators import compute_indicators, load_catalogue
from moneytrail.schema import REFERRAL_SUBJECTS, REFERRALS

try:  # tests/ may or may not be a package
    from tests.indicators.builders import tx, warehouse
except ModuleNotFoundError:
    from indicators.builders import tx, warehouse  # type: ignore[no-redef]

Rows = list[dict[str, Any]]
S = "john smith|US"  # the default sender subject
R = "maria santos|PH"  # the default receiver subject


def one(**kw: Any) -> Rows:
    return [tx(record_id="X", **kw)]


def series(n: int, step: float = 1.0, **kw: Any) -> Rows:
    return [tx(day=i * step, **kw) for i in range(n)]


def fan_in(senders: list[tuple[str, str]], r: str = "maria santos", **kw: Any) -> Rows:
    return [tx(s=s, s_country=c, r=r, day=i, **kw) for i, (s, c) in enumerate(senders)]


def copaid_pair() -> Rows:
    """john smith pays maria santos and rosa cruz: the two receivers are co-paid."""
    return [tx(), tx(day=1, r="rosa cruz")]


def forward(frm: str, to: str) -> dict[str, Any]:
    """A domestic wallet transfer between two receivers in the Philippines."""
    return tx(day=2, s=frm, s_country="PH", r=to, r_country="PH", usd=80, fmt="wallet-csv")


ROSA = "rosa cruz|PH"
TWO = [("john smith", "US"), ("peter wilson", "AU")]
FIVE = [*TWO, ("mark brown", "GB"), ("hans muller", "DE"), ("gary clark", "CA")]

# id -> (fires rows, quiet rows, target): target "tx" is record X, else a subject id
CASES: dict[str, tuple[Callable[[], Rows], Callable[[], Rows], str]] = {
    "MT01": (lambda: one(usd=50), lambda: one(usd=500), "tx"),
    "MT02": (lambda: one(usd=50), lambda: one(usd=47.5), "tx"),
    "MT03": (lambda: one(hour=23), lambda: one(hour=14), "tx"),
    "MT04": (lambda: one(memo="for school fees"), lambda: one(memo="car parts"), "tx"),
    "MT05": (lambda: one(memo="pang-aral mo"), lambda: one(memo="car parts"), "tx"),
    "MT06": (lambda: one(memo="un regalo", r_country="CO"), lambda: one(memo="car parts", r_country="CO"), "tx"),
    "MT07": (lambda: one(), lambda: one(s="jose santos"), "tx"),
    "MT08": (lambda: one(), lambda: one(s="jose reyes"), "tx"),
    "MT09": (lambda: one(dob="1970-05-02"), lambda: one(dob="1995-05-02"), "tx"),
    "MT10": (lambda: one(fmt="card-csv", mcc="4816", merchant="NordVPN", r_country="PA"),
             lambda: one(fmt="card-csv", mcc="5411", merchant="Tesco Stores", r_country="GB"), "tx"),
    "MT11": (lambda: one(fmt="card-csv", mcc="5967", merchant="LiveJoy", r_country="CY"),
             lambda: one(fmt="card-csv", mcc="5411", merchant="Tesco Stores", r_country="GB"), "tx"),
    "MT12": (lambda: one(fmt="card-csv", mcc="4814", merchant="Skype Credit", r_country="LU"),
             lambda: one(fmt="card-csv", mcc="5411", merchant="Tesco Stores", r_country="GB"), "tx"),
    "MT13": (lambda: one(fmt="card-csv", mcc="3000", merchant="Philippine Airlines", r_country="PH"),
             lambda: one(fmt="card-csv", mcc="3000", merchant="British Airways", r_country="GB"), "tx"),
    "MT14": (lambda: one(payout_min=20), lambda: one(payout_min=3000), "tx"),
    "MT15": (lambda: one(usd=60), lambda: one(usd=600), "tx"),
    "MT16": (lambda: one(fmt="card-csv", mcc="6011", merchant="BDO ATM", r_country="PH"),
             lambda: one(fmt="card-csv", mcc="6011", merchant="Chase ATM", r_country="US"), "tx"),
    "MT17": (lambda: [*series(2), tx(day=5, record_id="X")], lambda: one(), "tx"),
    "MT18": (lambda: one(r_country="DO"), lambda: one(r_country="GH"), "tx"),
    "MT20": (lambda: series(3), lambda: series(2), S),
    "MT21": (lambda: series(3, step=2), lambda: series(3, step=30), S),
    "MT22": (lambda: [tx(r=f"ana cruz{i}") for i in range(3)], lambda: series(3), S),
    "MT23": (lambda: [tx(r="ana cruz"), tx(r="rosa reyes")],
             lambda: [tx(r="ana smith"), tx(r="rosa smith")], S),
    "MT24": (lambda: [tx(day=i * 5, usd=20 + 20 * i) for i in range(4)],
             lambda: [tx(day=i * 5, usd=100 - 20 * i) for i in range(4)], S),
    "MT25": (lambda: [tx(day=d) for d in (0, 20, 30, 35, 37, 38)],
             lambda: [tx(day=d) for d in (0, 1, 3, 8, 18, 38)], S),
    "MT26": (lambda: series(2, hour=2), lambda: series(2, hour=15), S),
    "MT27": (lambda: [tx(), tx(fmt="card-csv", mcc="4816", merchant="NordVPN", r_country="PA", s_key=S)],
             lambda: [tx(fmt="card-csv", mcc="4816", merchant="NordVPN", r_country="PA", s_key=S)], S),
    "MT28": (lambda: [tx(), tx(fmt="card-csv", mcc="5967", merchant="LiveJoy", r_country="CY", s_key=S)],
             lambda: [tx(fmt="card-csv", mcc="5967", merchant="LiveJoy", r_country="CY", s_key=S)], S),
    "MT29": (lambda: [tx(), tx(day=3, fmt="card-csv", mcc="3000", merchant="Cebu Pacific", r_country="PH", s_key=S)],
             lambda: [tx(day=3, fmt="card-csv", mcc="3000", merchant="Cebu Pacific", r_country="PH", s_key=S)], S),
    "MT30": (lambda: [tx(), tx(r="malee srisuk", r_country="TH")], lambda: series(2), S),
    "MT31": (lambda: [tx(s="jose santos", day=30 * i) for i in range(4)],
             lambda: [tx(s="jose santos", day=d, r=f"ana cruz{d}") for d in (0, 3, 40, 41)], "jose santos|US"),
    "MT32": (lambda: series(20, usd=2), lambda: series(5, usd=2), S),
    "MT33": (lambda: series(2, usd=300), lambda: [tx(usd=300), tx(usd=5000)], S),
    "MT34": (lambda: [tx(usd=50), tx(usd=1500)], lambda: series(2, usd=300), S),
    # one payee, sums climbing to 16 times the first (a romance-scam course) / a consumer's modest rise
    "MT35": (lambda: [tx(day=i * 10, usd=50 * 2 ** i) for i in range(5)],
             lambda: [tx(day=i * 10, usd=50 + 10 * i) for i in range(5)], S),
    "MT40": (lambda: fan_in(TWO), lambda: fan_in(TWO[:1]), R),
    "MT41": (lambda: fan_in(TWO), lambda: fan_in([("john smith", "US"), ("peter wilson", "US")]), R),
    "MT42": (lambda: series(3, usd=60), lambda: series(3, usd=600), R),
    "MT43": (lambda: series(2, payout_min=15), lambda: series(2, payout_min=5000), R),
    "MT44": (lambda: [tx(usd=100, fmt="wallet-csv"),
                      tx(day=1, s="maria santos", s_country="PH", s_key=R, r="gcash cashout", r_country="PH",
                         usd=90, fmt="wallet-csv", txn_type="withdrawal")],
             lambda: [tx(usd=100, fmt="wallet-csv")], R),
    "MT45": (lambda: [row for k in range(3) for row in fan_in(TWO, r=f"ana cruz{k}", agent="AG1")],
             lambda: [row for k in range(3) for row in fan_in(TWO, r=f"ana cruz{k}", agent=f"AG{k}")],
             "ana cruz0|PH"),
    "MT46": (lambda: [tx(s="maria santos", s_country="PH", s_key=R, r="x", r_country="PH", device="D1"),
                      tx(s="rosa cruz", s_country="PH", r="x", r_country="PH", device="D1")],
             lambda: [tx(s="maria santos", s_country="PH", s_key=R, r="x", r_country="PH", device="D1"),
                      tx(s="rosa cruz", s_country="PH", r="x", r_country="PH", device="D2")], R),
    "MT47": (lambda: [tx(usd=100, fmt="wallet-csv"),
                      tx(day=1, s="maria santos", s_country="PH", s_key=R, r="rosa cruz", r_country="PH",
                         usd=80, fmt="wallet-csv")],
             lambda: [tx(usd=100, fmt="wallet-csv")], R),
    "MT50": (lambda: [tx(usd=100, r_key="rosa|PH", r="rosa cruz"),
                      tx(day=1, s="rosa cruz", s_country="PH", s_key="rosa|PH", r="maria santos", r_country="PH", usd=80)],
             lambda: [tx(s="rosa cruz", s_country="PH", s_key="rosa|PH", r="maria santos", r_country="PH", usd=80)], R),
    "MT48": (lambda: fan_in(FIVE), lambda: fan_in(TWO), R),
    "MT51": (lambda: one(aligned=1), lambda: one(login=1), "tx"),
    "MT52": (lambda: one(login=1), lambda: one(aligned=1), "tx"),
    "MT49": (lambda: series(4, usd=60), lambda: series(2, usd=60), R),
    # network level: receivers paid by the same foreign senders (co-paid) and the money between them
    "MT53": (lambda: [*copaid_pair(), forward("rosa cruz", "maria santos")],
             lambda: [*copaid_pair(), forward("rosa cruz", "ana lim")], ROSA),
    "MT54": (lambda: [*copaid_pair(), forward("rosa cruz", "maria santos")],
             lambda: [tx(), tx(s="peter wilson", s_country="AU", r="rosa cruz"), forward("rosa cruz", "maria santos")], R),
    "MT55": (lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO * 3)],
             lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO)], ROSA),
    "MT58": (lambda: [tx(r="rosa cruz"), tx(r="ana lim"), forward("rosa cruz", "lorna reyes"),
                      forward("ana lim", "lorna reyes")],
             lambda: [tx(r="rosa cruz"), tx(s="peter wilson", s_country="AU", r="ana lim"),
                      forward("rosa cruz", "lorna reyes"), forward("ana lim", "lorna reyes")], "lorna reyes|PH"),
    "MT59": (lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO), tx(r="ana lim"), forward("ana lim", "maria santos")],
             lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO), tx(r="ana lim")], ROSA),
    # the same, when the larger receiver shares the subject's family name (a relative)
    "MT60": (lambda: [*fan_in(TWO, r="rosa santos"), *fan_in(TWO * 3)],
             lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO * 3)], "rosa santos|PH"),
    "MT61": (lambda: [*fan_in(TWO, r="rosa santos"), *fan_in(TWO), tx(r="ana lim"), forward("ana lim", "maria santos")],
             lambda: [*fan_in(TWO, r="rosa santos"), *fan_in(TWO), tx(r="ana lim")], "rosa santos|PH"),
    # the head takes three times what a co-paid receiver (another name) takes / as much
    "MT63": (lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO * 3)],
             lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO)], R),
    # one payer in common with a relative (same family name) who takes three times more / no relative
    "MT64": (lambda: [tx(r="rosa santos"), *series(3)], lambda: [tx(r="rosa cruz"), *series(3)], "rosa santos|PH"),
    "MT65": (lambda: [tx(r="rosa santos"), *series(3)], lambda: [tx(r="rosa cruz"), *series(3)], R),
    # three unrelated receivers paid in turn by the same two payers / one of them takes far more
    "MT67": (lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO, r="ana lim"), *fan_in(TWO)],
             lambda: [*fan_in(TWO, r="rosa cruz"), *fan_in(TWO * 3, r="ana lim"), *fan_in(TWO)], ROSA),
    "MT62": (lambda: one(r="coastal digital services", r_key="payee|PH", fmt="wallet-csv"),
             lambda: one(r="maria santos", r_key="payee|PH", fmt="wallet-csv"), "payee|PH"),
}
# network level, from platform referrals (their own store: see test_referral_indicators)
REFERRAL_CASES = ("MT56", "MT57", "MT66")


def test_every_indicator_has_a_case() -> None:
    assert sorted([*CASES, *REFERRAL_CASES]) == sorted(load_catalogue().ids)
    assert len(CASES) >= 25


def _namespaced(ind_id: str, rows: Rows) -> Rows:
    """Give each case its own provider, subjects, agents and devices, so all share one store."""
    out = []
    for r in rows:
        r = dict(r)
        r["provider"] = ind_id
        r["_s_key"] = f"{ind_id}:{r['_s_key']}"
        r["_r_key"] = f"{ind_id}:{r['_r_key']}"
        for k in ("payout_agent_id", "device_id"):
            if r[k]:
                r[k] = f"{ind_id}:{r[k]}"
        out.append(r)
    return out


def _evaluate(which: int) -> dict[str, bool]:
    rows = [row for i, case in CASES.items() for row in _namespaced(i, case[which]())]
    wh = warehouse(None, rows)
    network = {i.id for i in load_catalogue().by_level("network")}
    try:
        compute_indicators(wh.con)
        result = {}
        for ind_id, (_, _, target) in CASES.items():
            if target == "tx":
                row = wh.con.execute(
                    f"SELECT f_{ind_id} FROM mt_txi WHERE provider = ? AND record_id = 'X'", [ind_id]
                ).fetchone()
                long = wh.con.execute(
                    "SELECT count(*) FROM transaction_indicators WHERE provider = ? AND record_id = 'X' AND indicator_id = ?",
                    [ind_id, ind_id],
                ).fetchone()
            else:
                subject = f"{ind_id}:{target}"
                table = "mt_subgi" if ind_id in network else "mt_subi"
                row = wh.con.execute(f"SELECT f_{ind_id} FROM {table} WHERE subject_id = ?", [subject]).fetchone()
                long = wh.con.execute(
                    "SELECT count(*) FROM subject_indicators WHERE subject_id = ? AND indicator_id = ?",
                    [subject, ind_id],
                ).fetchone()
            fired = bool(row and row[0] == 1)
            assert bool(long and long[0]) == fired, f"{ind_id}: long table disagrees with the fires column"
            result[ind_id] = fired
        return result
    finally:
        wh.close()


@pytest.fixture(scope="module")
def fired_cases() -> dict[str, bool]:
    return _evaluate(0)


@pytest.fixture(scope="module")
def quiet_cases() -> dict[str, bool]:
    return _evaluate(1)


@pytest.mark.parametrize("ind_id", sorted(CASES))
def test_fires(fired_cases: dict[str, bool], ind_id: str) -> None:
    assert fired_cases[ind_id]


@pytest.mark.parametrize("ind_id", sorted(CASES))
def test_quiet(quiet_cases: dict[str, bool], ind_id: str) -> None:
    assert not quiet_cases[ind_id]


def _referral_store(role: str, incident: str, viewer: str = S, facilitator: str = R) -> Any:
    """john smith pays maria santos; one referral names both accounts, linked to their subjects
    (or to the subjects given)."""
    wh = warehouse(None, [tx(), tx(day=1)])
    con = wh.con
    for t in (REFERRALS, REFERRAL_SUBJECTS):
        con.execute(t.ddl())
    con.execute("INSERT INTO referrals (provider, record_id, platform, incident_type) VALUES ('vc', 'R1', 'VidChat', ?)",
                [incident])
    for ref, subject, r in (("s1", viewer, "suspect_viewer" if role in ("viewer", "both") else "suspect"),
                            ("s2", facilitator, "suspect_facilitator" if role in ("facilitator", "both") else "suspect")):
        con.execute("INSERT INTO referral_subjects (provider, record_id, report_id, subject_ref, role) VALUES ('vc', ?, 'R1', ?, ?)",
                    [f"R1#{ref}", ref, r])
        con.execute("INSERT INTO subject_records VALUES (?, 'vc', ?, ?)", [subject, f"R1#{ref}", ref])
    compute_indicators(con)
    return wh


def _fired(con: Any, ind_id: str, subject: str) -> bool:
    row = con.execute(f"SELECT f_{ind_id} FROM mt_subgi WHERE subject_id = ?", [subject]).fetchone()
    long = con.execute("SELECT count(*) FROM subject_indicators WHERE subject_id = ? AND indicator_id = ?",
                       [subject, ind_id]).fetchone()
    fired = bool(row and row[0] == 1)
    assert bool(long and long[0]) == fired
    return fired


@pytest.mark.parametrize(("ind_id", "role", "subject"), [("MT56", "facilitator", R), ("MT57", "viewer", S)])
def test_referral_indicators(ind_id: str, role: str, subject: str) -> None:
    wh = _referral_store(role, "live_streaming_abuse")
    assert _fired(wh.con, ind_id, subject)
    wh.close()
    # the same accounts named as mere suspects, or in a report about something else: quiet
    for r, incident in (("none", "live_streaming_abuse"), (role, "other")):
        wh = _referral_store(r, incident)
        assert not _fired(wh.con, ind_id, subject)
        wh.close()


def test_report_fragment_indicator() -> None:
    """MT66: the reported facilitator has no payment of its own while the report's viewer pays abroad."""
    wh = _referral_store("both", "live_streaming_abuse", facilitator="lorna|PH")
    assert _fired(wh.con, "MT66", "lorna|PH") and _fired(wh.con, "MT56", "lorna|PH")
    wh.close()
    # the facilitator's account is tied to the payee: not a fragment
    wh = _referral_store("both", "live_streaming_abuse")
    assert not _fired(wh.con, "MT66", R)
    wh.close()
    # the viewer pays nobody (a report about two accounts with no payments): the report is all there is
    wh = _referral_store("both", "live_streaming_abuse", viewer="nobody|US", facilitator="lorna|PH")
    assert not _fired(wh.con, "MT66", "lorna|PH") and _fired(wh.con, "MT56", "lorna|PH")
    wh.close()
