"""The SparkSession moneytrail runs on: settings that make Spark SQL mean what DuckDB SQL means."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from moneytrail.engine.splink_spark import similarity_jar
from moneytrail.errors import UserError

DEFAULT_MASTER = "local[*]"

# Each setting aligns one behaviour with DuckDB's, or keeps a laptop run quiet.
SETTINGS = {
    "spark.sql.session.timeZone": "UTC",  # the warehouse's timestamps are naive UTC
    "spark.sql.ansi.enabled": "false",  # x / 0 is NULL, as in DuckDB
    "spark.sql.legacy.sizeOfNull": "false",  # size(NULL) is NULL, as len(NULL)
    "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
    # decimal sums keep their scale, as DuckDB's do (model weights are DECIMAL literals)
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.shuffle.partitions": "16",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def active_spark() -> Any:
    """The SparkSession this process runs, for code handed no session (Splink's Spark backend)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise UserError("the Spark backend needs PySpark; install it with `pip install 'moneytrail[spark]'`") from exc
    active = SparkSession.getActiveSession()
    if active is None:
        raise UserError("no Spark session is running; scoring on Spark runs inside `moneytrail run --engine spark`")
    return active


def spark_session(master: str = DEFAULT_MASTER, *, local_dir: Path | None = None) -> Any:
    """The active session, or a new one on `master` (`local[*]`, `spark://host:7077`, ...).

    Driver memory comes from $MONEYTRAIL_SPARK_MEMORY (default 4g); it only takes
    effect when this call starts the JVM.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise UserError(
            "the Spark engine needs PySpark; install it with `pip install 'moneytrail[spark]'` "
            "(and Java 17 or later)"
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Python workers (for local data handed to Spark) run this interpreter, not python3 from PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("moneytrail")
    for key, value in SETTINGS.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.driver.memory", os.environ.get("MONEYTRAIL_SPARK_MEMORY", "4g"))
    jar = similarity_jar()
    if jar is not None:  # Splink registers its similarity UDFs from it (our conditions need none: splink_spark)
        builder = builder.config("spark.jars", jar)
    if local_dir is not None:
        local_dir.mkdir(parents=True, exist_ok=True)
        builder = builder.config("spark.local.dir", str(local_dir))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, bad master URL
        raise UserError(f"cannot start Spark on {master}: {str(exc).splitlines()[0]}; check Java 17+ and --spark-master") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark
