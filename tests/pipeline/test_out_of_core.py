"""Out of core: where the warehouse spills, how much each stage spilled, and a full disk said plainly."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from moneytrail.errors import UserError
from moneytrail.pipeline.run import out_of_disk, run_batch
from moneytrail.pipeline.trace import RunTracer
from moneytrail.store import Warehouse, drop_temp_tables, table_exists, temp_directory

# a sort of ~3M wide rows: about 200 MB of data, more than the 100 MB the tests allow DuckDB
BIG_SORT = (
    "CREATE OR REPLACE TABLE sorted AS SELECT i, md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS s "
    "FROM range(3000000) t(i) ORDER BY s"
)


def test_the_environment_places_the_spill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONEYTRAIL_TEMP_DIR", raising=False)
    with Warehouse(tmp_path / "a.duckdb") as wh:
        assert temp_directory(wh.con) == (tmp_path / "a.duckdb.tmp").resolve()
    monkeypatch.setenv("MONEYTRAIL_TEMP_DIR", str(tmp_path / "spill" / "here"))
    with Warehouse(tmp_path / "b.duckdb") as wh:
        assert temp_directory(wh.con) == (tmp_path / "spill" / "here").resolve()
        assert (tmp_path / "spill" / "here").is_dir()


def test_the_tracer_sees_each_stage_spill(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb", memory_limit="100MB") as wh:
        wh.con.execute("SET threads = 1")
        tracer = RunTracer((str(temp_directory(wh.con)),), interval=0.05)
        with tracer:
            with tracer.stage("small"):
                wh.con.execute("SELECT sum(i) FROM range(1000) t(i)").fetchall()
            with tracer.stage("sort"):
                wh.con.execute(BIG_SORT)
    assert tracer.peaks["small"]["peak_spill_mib"] == 0
    assert tracer.peaks["sort"]["peak_spill_mib"] > 10
    assert tracer.peaks["sort"]["peak_rss_mib"] > 0


def test_a_spill_beyond_the_disk_says_what_to_do(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb", memory_limit="100MB") as wh:
        wh.con.execute("SET threads = 1")
        wh.con.execute("SET max_temp_directory_size = '20MB'")  # as if the disk were full
        spill = temp_directory(wh.con)
        with pytest.raises(UserError, match="MONEYTRAIL_TEMP_DIR") as err, out_of_disk(spill):
            wh.con.execute(BIG_SORT)
    assert str(spill) in str(err.value)


def test_other_memory_errors_pass_through(tmp_path: Path) -> None:
    import duckdb

    with pytest.raises(duckdb.OutOfMemoryException), out_of_disk(tmp_path):
        raise duckdb.OutOfMemoryException("failed to allocate data of size 3.0 MiB")


def test_run_json_holds_each_stage_peaks_and_the_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moneytrail.synth import generate

    world = generate(tmp_path / "world", scale=0.02, seed=5)
    monkeypatch.setenv("MONEYTRAIL_TRACE", "1")
    out = tmp_path / "out"
    run_batch(world.bundle, out)
    run = json.loads((out / "run.json").read_text())
    assert set(run["stage_seconds"]) <= set(run["stage_peaks"])
    assert all(p["peak_rss_mib"] > 0 for p in run["stage_peaks"].values())
    assert run["min_free_disk_gib"] > 0
    samples = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
    assert samples and {"t", "stage", "at", "rss_mib", "spill_mib"} <= set(samples[0])
    assert run["trace_top"] and all(t["at"] for t in run["trace_top"])


def test_splinks_own_spill_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moneytrail.resolve.splink_model import SplinkModel

    spill = tmp_path / "spill" / "splink"
    monkeypatch.setenv("MONEYTRAIL_TEMP_DIR", str(spill))
    profiles = duckdb.connect().sql(
        "SELECT 1 AS pid, 'ana cruz' AS name_sorted, ['ana', 'cruz'] AS name_tokens, NULL::DATE AS dob, "
        "NULL AS phone, NULL AS email, NULL AS email_user, NULL AS address, 'manila' AS city, "
        "'PH' AS country, NULL AS id_doc"
    ).to_arrow_table()
    model = SplinkModel(profiles)
    try:
        where = Path(str(model.con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]))
        assert where.parent == spill and where.name.startswith("moneytrail-splink-")
    finally:
        model.close()
    assert not where.exists()  # removed on close


def test_drop_temp_tables_drops_views_and_tables_and_keeps_stored_ones(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.con.execute("CREATE TABLE kept AS SELECT 1 AS x")
        wh.con.execute("CREATE TEMP TABLE scratch AS SELECT 2 AS x")
        wh.con.execute("CREATE TEMP VIEW over_scratch AS SELECT x FROM scratch")
        assert drop_temp_tables(wh.con) == ["over_scratch", "scratch"]
        assert not table_exists(wh.con, "scratch") and not table_exists(wh.con, "over_scratch")
        assert wh.con.execute("SELECT x FROM kept").fetchall() == [(1,)]
        assert drop_temp_tables(wh.con) == []


def test_no_stage_of_a_run_inherits_scratch_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stage's temporary tables are gone before the next stage starts, so they neither
    hold memory nor spill through the rest of the run; the run still writes its files."""
    import moneytrail.pipeline.run as run_mod
    from tests.conftest import remittance_row, write_csv

    real = run_mod.stages
    seen: dict[str, tuple[set[str], set[str]]] = {}

    def temp_names(con: duckdb.DuckDBPyConnection) -> set[str]:
        rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'temp'")
        return {r[0] for r in rows.fetchall()}

    def spied(model: str = "default", scoring: dict[str, object] | None = None) -> list[tuple[str, run_mod.Stage]]:
        def spy(name: str, stage: run_mod.Stage) -> run_mod.Stage:
            def run(con: duckdb.DuckDBPyConnection) -> object:
                before = temp_names(con)
                result = stage(con)
                seen[name] = (before, temp_names(con))
                return result

            return run

        return [(name, spy(name, stage)) for name, stage in real(model, scoring)]

    monkeypatch.setattr(run_mod, "stages", spied)
    rows = [
        remittance_row(transfer_id=f"T{i}", sender_id=f"C{i % 3}", receiver_name=f"Maria Santos {i % 2}")
        for i in range(12)
    ]
    write_csv(tmp_path / "bundle" / "remittance.csv", rows)
    report = run_batch(tmp_path / "bundle", tmp_path / "out")
    assert list(seen) == ["resolve", "referrals", "score", "network"]
    assert any(after for _, after in seen.values())  # some stage does leave scratch tables behind
    assert all(not before for before, _ in seen.values())
    assert report.counts["transaction_scores.csv"] == 12
