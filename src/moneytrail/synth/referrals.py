"""Platform referrals (platform-jsonl): metadata about accounts and calls, never content.

Four kinds, in the proportions a hotline sees:

- about a consumer and the receiver he paid, with video calls that start a few
  minutes after some of his payments (the truly aligned pairs of the truth);
- about a facilitator and some of the men who paid her network;
- about people with no payments in the bundle (other platforms, other banks);
- noisy ones: a legitimate person reported in error, or junk identifiers.

Identifiers partly match the payment records: the email used at a wallet or
remittance provider (or another one), the phone in another notation, the
name as displayed, sometimes a date of birth, and IP addresses seen at web
and app payments near the same time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moneytrail.referrals.config import ReferralSettings
from moneytrail.synth import ledger as L
from moneytrail.synth import names as N
from moneytrail.synth import places as P
from moneytrail.synth.identity import Profiles, render_email, render_phone
from moneytrail.synth.ledger import TYP
from moneytrail.synth.population import KIND, Population, ip_str

PLATFORMS = {"vidchat": "VidChat", "linkup": "LinkUp"}


@dataclass
class Subject:
    person: int
    role: str
    noisy: bool = False


@dataclass
class Spec:
    provider: str
    incident: str
    subjects: list[Subject]
    sessions: list[tuple[int, int, str, int, int | None, int | None]]  # from, to, kind, start, end, ledger row aligned
    logins: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # subject -> (ts, ip)
    submitted: int = 0
    aligned: dict[int, list[int]] = field(default_factory=dict)  # session index -> ledger rows aligned with it


@dataclass
class ReferralTruth:
    files: list[tuple[str, str, str, str]] = field(default_factory=list)
    parties: list[tuple[str, str, str, int]] = field(default_factory=list)  # provider, record_id, party, person
    aligned: list[tuple[int, str, str, int]] = field(default_factory=list)  # ledger row, provider, report_id, seq
    malformed: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    n_reports: int = 0


def build(pop: Population, ledger: L.Ledger, consumers: np.ndarray, networks: list[dict[str, np.ndarray]],
          rng: np.random.Generator, scale: float) -> list[Spec]:
    c = ledger.c
    abuse = np.flatnonzero(np.isin(c["typ"], [TYP["consumer_payment"], TYP["lone_payer_payment"], TYP["syndicate_payment"]]))
    order = abuse[np.argsort(c["frm"][abuse], kind="stable")]
    frm_sorted = c["frm"][order]
    specs: list[Spec] = []

    def payments_of(person: int) -> np.ndarray:
        lo, hi = np.searchsorted(frm_sorted, [person, person + 1])
        return order[lo:hi]

    def plat() -> str:
        return "vidchat" if rng.random() < .7 else "linkup"

    def sessions_for(rows: np.ndarray, k: int, a: int, b: int) -> list[tuple[int, int, str, int, int | None, int | None]]:
        out: list[tuple[int, int, str, int, int | None, int | None]] = []
        if len(rows) == 0:
            return out
        chosen = rng.choice(rows, size=min(k, len(rows)), replace=False)
        for r in sorted(chosen.tolist(), key=lambda x: int(c["ts"][x])):
            start = int(c["ts"][r]) + int(rng.integers(2 * 60, 30 * 60))
            end = start + int(rng.integers(8 * 60, 45 * 60)) if rng.random() < .85 else None
            out.append((a, b, "video_call", start, end, int(r)))
        return out

    def random_sessions(a: int, b: int, k: int) -> list[tuple[int, int, str, int, int | None, int | None]]:
        out: list[tuple[int, int, str, int, int | None, int | None]] = []
        for _ in range(k):
            start = L.T0 + int(rng.integers(0, L.N_DAYS * 86400))
            kind = str(rng.choice(["video_call", "chat", "voice_call", "live_stream"], p=[.4, .4, .1, .1]))
            out.append((a, b, kind, start, start + int(rng.integers(60, 3600)), None))
        return out

    # A. consumers and the receiver they paid
    n_c = len(consumers)
    picked = consumers[rng.random(n_c) < .12]
    for person in picked.tolist():
        rows = payments_of(person)
        if len(rows) == 0:
            continue
        recv, cnt = np.unique(c["to"][rows], return_counts=True)
        r = int(recv[np.argmax(cnt)])
        to_r = rows[c["to"][rows] == r]
        sess = sessions_for(to_r, int(rng.integers(1, 4)), 0, 1) + random_sessions(0, 1, int(rng.integers(0, 3)))
        specs.append(Spec(plat(), "live_streaming_abuse", [Subject(person, "suspect_viewer"),
                                                           Subject(r, "suspect_facilitator")], sess))
    # B. facilitators and some of their buyers
    by_to_order = abuse[np.argsort(c["to"][abuse], kind="stable")]
    to_sorted = c["to"][by_to_order]
    for nw in networks:
        if rng.random() >= .2:
            continue
        head = int(nw["receivers"][0])
        lo, hi = np.searchsorted(to_sorted, [head, head + 1])
        rows = by_to_order[lo:hi]
        buyers = np.unique(c["frm"][rows])
        viewers: list[int] = [int(v) for v in rng.choice(buyers, size=min(len(buyers), int(rng.integers(1, 4))),
                                                          replace=False)] if len(buyers) else []
        subjects = [Subject(head, "suspect_facilitator")] + [Subject(v, "suspect_viewer") for v in viewers]
        fsess: list[tuple[int, int, str, int, int | None, int | None]] = []
        for k, v in enumerate(viewers, start=1):
            fsess += sessions_for(rows[c["frm"][rows] == v], 1, k, 0)
        specs.append(Spec(plat(), "live_streaming_abuse", subjects, fsess))
    # C. offenders with no payments in the bundle
    k = max(1, round(len(picked) * .15))
    oc = pop.add("referral_only_consumer", k, np.array([P.INDEX["US"], P.INDEX["GB"], P.INDEX["AU"]], np.int16)[rng.integers(0, 3, k)],
                 role="consumer", sex=np.ones(k, np.int8), age=(30, 70))
    of = pop.add("referral_only_facilitator", k, "PH", role="facilitator", age=(25, 55))
    for a, b in zip(oc.tolist(), of.tolist(), strict=True):
        specs.append(Spec(plat(), str(rng.choice(["live_streaming_abuse", "solicitation"])),
                          [Subject(a, "suspect_viewer"), Subject(b, "suspect_facilitator")], random_sessions(0, 1, 2)))
    # D. noisy referrals: a legitimate person reported in error, and junk identifiers
    kinds = pop["kind"]
    legit = np.flatnonzero(np.isin(kinds, [KIND["general"], KIND["adult_webcam_user"], KIND["romance_victim"]]))
    k = max(1, round(len(picked) * .1))
    noise = pop.add("referral_noise", k, "US", age=(18, 60))
    for j in range(k):
        subj = [Subject(int(noise[j]), "other", noisy=True)]
        if len(legit) and rng.random() < .7:
            subj.insert(0, Subject(int(legit[rng.integers(0, len(legit))]), "suspect"))
        specs.append(Spec(plat(), str(rng.choice(["other", "grooming", "solicitation", "csam_distribution"])), subj,
                          random_sessions(0, len(subj) - 1, 1) if len(subj) > 1 else []))
    # logins near payments from the same home address (web and app channels)
    for sp in specs:
        for si, s in enumerate(sp.subjects):
            evs: list[tuple[int, int]] = []
            for fr, _to, _kind, _start, _end, row in sp.sessions:
                if fr == si and row is not None and c["ipm"][row] == 1 and rng.random() < .8:
                    evs.append((int(c["ts"][row]) - int(rng.integers(60, 40 * 60)), int(pop["home_ip"][s.person])))
            for _ in range(int(rng.integers(0, 3))):
                evs.append((L.T0 + int(rng.integers(0, L.N_DAYS * 86400)), int(pop["home_ip"][s.person])))
            sp.logins[si] = sorted(evs)
        last = max([st for _, _, _, st, _, _ in sp.sessions], default=L.T0 + int(rng.integers(0, L.N_DAYS * 86400)))
        sp.submitted = min(L.T_END - 3600, last + int(rng.integers(86400, 40 * 86400)))
    _align(specs, ledger)
    return specs


def _align(specs: list[Spec], ledger: L.Ledger) -> None:
    """Every payment-session pair the alignment rule defines, between the true persons.

    Not only the sessions generated for a payment: a chat that happens to fall within
    the window of a payment between the same two people is aligned too. The rule is
    the referral stage's (``moneytrail.referrals.alignment``) with its defaults: the
    session starts at most the window after the payment (inclusive), or the payment
    follows the session start by at most the window (exclusive of zero); per session
    and payer, the payment closest to the session start.
    """
    c = ledger.c
    window = round(ReferralSettings().align_window_minutes * 60)
    persons = np.unique([sub.person for sp in specs for sub in sp.subjects])
    rows = np.flatnonzero(np.isin(c["frm"], persons) & np.isin(c["to"], persons))
    by_pair: dict[tuple[int, int], list[int]] = {}
    for r in rows.tolist():
        by_pair.setdefault((int(c["frm"][r]), int(c["to"][r])), []).append(r)
    for sp in specs:
        for i, (fr, to, _kind, start, _end, _row) in enumerate(sp.sessions):
            a, b = sp.subjects[fr].person, sp.subjects[to].person
            for payer, payee in ((a, b), (b, a)):
                best: tuple[int, int] | None = None
                for r in by_pair.get((payer, payee), []):
                    d = start - int(c["ts"][r])
                    if -window <= d <= window and (best is None or abs(d) < best[0]):
                        best = (abs(d), r)
                if best is not None:
                    sp.aligned.setdefault(i, []).append(best[1])


def _z(ts: int) -> str:
    return str(np.datetime64(int(ts), "s")) + "Z"


def write(bundle: Path, pop: Population, specs: list[Spec], ledger_rid: np.ndarray, ledger_prov: np.ndarray,
          rng: np.random.Generator, seed: int, malformed_rate: float = 0.005) -> ReferralTruth:
    truth = ReferralTruth()
    for provider, platform in PLATFORMS.items():
        mine = sorted((s for s in specs if s.provider == provider), key=lambda s: s.submitted)
        if not mine:
            continue
        persons = np.unique(np.array([sub.person for s in mine for sub in s.subjects], dtype=np.int64))
        prof = Profiles(pop, persons, provider, 20 + list(PLATFORMS).index(provider), seed)
        acct = prof.ids("u_", 61 + len(provider), 7)
        rel = f"{provider}/referrals.jsonl"
        path = bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for n, sp in enumerate(mine, start=1):
            year = str(np.datetime64(sp.submitted, "s").astype("datetime64[Y]"))
            rid = f"VC-{year}-{n:06d}" if provider == "vidchat" else f"LU{n:08d}"
            subjects = []
            for si, sub in enumerate(sp.subjects):
                k = int(prof.lookup(np.array([sub.person]))[0])
                p = sub.person
                ref = f"s{si + 1}"
                d: dict[str, object] = {"subject_ref": ref, "role": sub.role, "account_id": str(acct[k])}
                if rng.random() < .7:
                    h = N.HANDLE_WORDS
                    d["screen_name"] = f"{h[int(rng.integers(0, len(h)))]}{h[int(rng.integers(0, len(h)))]}{int(rng.integers(1, 999))}"
                u = rng.random()
                if sub.noisy:
                    d["display_name"] = str(rng.choice(["user", "anon", "guest", "xx"])) + str(int(rng.integers(1, 9999)))
                elif u < .6:
                    d["display_name"] = str(prof.name[k])
                elif u < .8:
                    d["display_name"] = str(prof.name[k]).split(" ")[0]
                emails: list[str] = []
                u = rng.random()
                if u < .55 and not sub.noisy:
                    emails.append(render_email(pop, p, bool(pop["has_email2"][p]) and rng.random() < .5))
                elif u < .75:
                    emails.append(f"{N.HANDLE_WORDS[int(rng.integers(0, 25))]}{int(rng.integers(10, 9999))}@example.org")
                if emails:
                    d["emails"] = emails
                if rng.random() < .4 and not sub.noisy:
                    d["phones"] = [render_phone(int(pop["country"][p]), int(pop["phone_prefix"][p]),
                                                int(pop["phone_sub"][p]), int(rng.integers(0, 4)))]
                if rng.random() < .35 and not sub.noisy:
                    d["dob"] = str(prof.dob[k] or np.datetime64(int(pop["dob"][p]), "D"))
                evs = sp.logins.get(si, [])
                if evs:
                    d["ip_events"] = [{"ip": ip_str(ip), "at": _z(t), "event": "login",
                                       "country": P.CODES[int(pop["country"][p])]} for t, ip in evs]
                if rng.random() < .7:
                    d["country"] = P.CODES[int(pop["country"][p])]
                subjects.append(d)
            sessions = []
            for fr, to, kind, start, end, _row in sp.sessions:
                s = {"from": f"s{fr + 1}", "to": f"s{to + 1}", "kind": kind, "start": _z(start)}
                if end is not None:
                    s["end"] = _z(end)
                sessions.append(s)
            obj = {"report_id": rid, "platform": platform, "submitted_at": _z(sp.submitted), "incident_type": sp.incident,
                   "subjects": subjects, "sessions": sessions}
            text = json.dumps(obj, ensure_ascii=False)
            if rng.random() < malformed_rate:
                lines.append(text[: len(text) // 2])  # cut off mid-object
                truth.malformed.append((provider, rel, rid, f"line {n}", "broken_json"))
                continue
            lines.append(text)
            for si, sub in enumerate(sp.subjects):
                truth.parties.append((provider, f"{rid}#s{si + 1}", f"s{si + 1}", sub.person))
            for seq, rows in sorted(sp.aligned.items()):
                for row in rows:
                    truth.aligned.append((row, provider, rid, seq))
            truth.n_reports += 1
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        truth.files.append((rel, "platform-jsonl", provider, ""))
    _ = ledger_rid, ledger_prov
    return truth
