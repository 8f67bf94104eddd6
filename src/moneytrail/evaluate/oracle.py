"""A perfect run built from the truth: the outputs every metric should score 1.0 on.

Used by the tests and handy for checking an evaluation set-up end to end.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_oracle(truth: Path | str, out: Path | str) -> Path:
    """Write transaction_scores.csv, subjects.csv, subject_records.csv and quarantine.csv that match the truth."""
    truth, out = Path(truth), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tx = pd.read_csv(truth / "transactions.csv", dtype=str, keep_default_na=False)
    good = tx[tx["malformed"] != "1"]
    pd.DataFrame({
        "provider": good["provider"], "record_id": good["record_id"], "score": good["is_abuse"].astype(float),
        "flagged": good["is_abuse"].astype(int), "reasons": good["typology"].where(good["is_abuse"] == "1", ""),
    }).to_csv(out / "transaction_scores.csv", index=False)
    parties = pd.read_csv(truth / "parties.csv", dtype=str, keep_default_na=False)
    refs = pd.read_csv(truth / "referrals.csv", dtype=str, keep_default_na=False)
    keys = pd.concat([good[["provider", "record_id"]], refs[["provider", "record_id"]]]).drop_duplicates()
    recs = parties.merge(keys, on=["provider", "record_id"])
    recs = recs.rename(columns={"person_id": "subject_id"})[["subject_id", "provider", "record_id", "party"]]
    recs.to_csv(out / "subject_records.csv", index=False)
    persons = pd.read_csv(truth / "persons.csv", dtype=str, keep_default_na=False)
    persons = persons[persons["person_id"].isin(recs["subject_id"])]
    offender = persons["role"] != "none"
    pd.DataFrame({
        "subject_id": persons["person_id"], "role": persons["role"], "score": offender.astype(float),
        "flagged": offender.astype(int), "reasons": "",
    }).to_csv(out / "subjects.csv", index=False)
    mal = pd.read_csv(truth / "malformed.csv", dtype=str, keep_default_na=False)
    pd.DataFrame({"provider": mal["provider"], "file": mal["file"], "location": mal["location"],
                  "reason": mal["defect"]}).to_csv(out / "quarantine.csv", index=False)
    return out
