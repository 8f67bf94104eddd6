"""A store that will not open says why and what to do, not a DuckDB message alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from moneytrail.errors import UserError
from moneytrail.store import Warehouse

# A process that commits to a store and is killed before it checkpoints: its .wal stays behind.
KILLED = """
import os, signal, sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SET checkpoint_threshold = '1GB'")
con.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_stale_wal_from_a_killed_process_gets_advice(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    done = subprocess.run([sys.executable, "-c", KILLED, str(store)], check=False)
    assert done.returncode != 0
    assert (tmp_path / "store.duckdb.wal").exists()
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    shutil.copyfile(other, store)  # the file replaced, its old .wal left beside it

    with pytest.raises(UserError) as err:
        Warehouse(store)
    message = str(err.value)
    assert "store.duckdb.wal" in message and "Move the .wal aside" in message

    (tmp_path / "store.duckdb.wal").rename(tmp_path / "store.duckdb.wal.old")
    with Warehouse(store) as wh:  # opens as last saved once the stale log is moved
        assert wh.con.execute("SELECT count(*) FROM transactions").fetchall()[0][0] == 0


def test_a_locked_store_still_says_another_process(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(store)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(UserError, match="another moneytrail process"):
            Warehouse(store)
    finally:
        holder.kill()
        holder.wait()
