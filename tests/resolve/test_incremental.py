from __future__ import annotations

from pathlib import Path

from moneytrail.resolve import resolve, resolve_new
from moneytrail.resolve.sample import generate
from moneytrail.store import Warehouse

from .helpers import add_party, subject_of


def test_new_records_join_existing_subjects(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        con = wh.con
        generate(con, transactions=1500, seed=4)
        con.execute("CREATE TABLE held AS SELECT * FROM parties WHERE record_id >= 'T00001350'")
        con.execute("DELETE FROM parties WHERE record_id >= 'T00001350'")
        add_party(con, "RemitX", "A1", "sender", name="Peter Okafor", email="p.okafor@example.com",
                  country="GB", city="London")
        resolve(con)
        before = dict(
            con.execute(
                "SELECT provider || ':' || record_id || ':' || party, subject_id FROM subject_records"
            ).fetchall()
        )
        last = max(before.values())
        con.execute("INSERT INTO parties SELECT * FROM held")
        add_party(con, "WalletX", "B1", "payer", name="OKAFOR Peter", email="P.Okafor@example.com",
                  country="GB", account="w-po", account_kind="wallet")
        add_party(con, "WalletX", "B2", "payer", name="Zed Newcomer", email="zed@example.org",
                  country="NZ", account="w-zed", account_kind="wallet")
        report = resolve_new(con)
        assert report.new_records == 2 * 150 + 2
        after = dict(
            con.execute(
                "SELECT provider || ':' || record_id || ':' || party, subject_id FROM subject_records"
            ).fetchall()
        )
        # nothing already resolved moves
        assert all(after[k] == v for k, v in before.items())
        assert len(after) == len(before) + report.new_records
        # the email links the new wallet record to the existing subject
        assert subject_of(con, "WalletX:B1:payer") == subject_of(con, "RemitX:A1:sender")
        # an unknown person becomes a new subject numbered after the last one
        assert subject_of(con, "WalletX:B2:payer") > last
        # most held-back payers join existing subjects
        new_keys = [k for k in after if k not in before and k.endswith((":sender", ":payer"))]
        joined = sum(after[k] <= last for k in new_keys)
        assert joined >= 0.8 * len(new_keys)
