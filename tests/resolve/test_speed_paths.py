"""The fast paths of resolution give exactly what the plain paths give."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from moneytrail.resolve import ResolveSettings
from moneytrail.resolve.blocking import build_pairs
from moneytrail.resolve.run import PROFILES_FOR_MODEL_SQL
from moneytrail.resolve.splink_model import SplinkModel

Resolved = tuple[duckdb.DuckDBPyConnection, Any, Any]


def test_predict_matches_splinks_own_predict(resolved: Resolved) -> None:
    con, _, _ = resolved
    settings = ResolveSettings()
    n_pairs = build_pairs(con, block_cap=settings.block_cap)
    assert n_pairs > 1000
    profiles = con.sql(PROFILES_FOR_MODEL_SQL).to_arrow_table()
    pairs = con.sql("SELECT pid_l, pid_r FROM _resolve_pairs").to_arrow_table()
    model = SplinkModel(profiles)
    try:
        model.train(settings)
        fast = model.predict(pairs)
        plain = model.predict_splink(pairs)
        kept = model.predict(pairs, min_weight=-5.0)
        # the stream the run reads (session 10): the same rows, batch by batch
        with model.predict_reader(pairs, min_weight=-5.0, batch_rows=1000) as reader:
            batches = list(reader)
        streamed = pa.Table.from_batches(batches)
    finally:
        model.close()
    assert fast.schema == plain.schema
    assert fast.num_rows == plain.num_rows == n_pairs
    key = [("pid_l", "ascending"), ("pid_r", "ascending")]
    fast, plain = fast.sort_by(key), plain.sort_by(key)
    for col in fast.column_names:
        assert fast.column(col).to_pylist() == plain.column(col).to_pylist(), col
    # the name comparison took several levels here, so the lookup was exercised
    assert len(set(fast.column("lvl_name").to_pylist())) >= 4
    # min_weight keeps exactly the pairs at or above it
    weights = plain.column("match_weight").to_pylist()
    assert 0 < kept.num_rows < plain.num_rows
    assert kept.num_rows == sum(1 for w in weights if w >= -5.0)
    assert min(kept.column("match_weight").to_pylist()) >= -5.0
    assert len(batches) > 1 and streamed.schema == kept.schema
    assert streamed.sort_by(key).to_pylist() == kept.sort_by(key).to_pylist()
