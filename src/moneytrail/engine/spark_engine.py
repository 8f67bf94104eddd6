"""A Spark warehouse that the stages talk to as they talk to DuckDB.

The stages are SQL over named tables, sent through a DuckDB-style connection
(``execute``, ``sql``, ``register``, ``fetchall``...). :class:`SparkConnection`
offers that same small surface over a SparkSession: each statement is
transpiled once (:mod:`moneytrail.engine.spark_sql`) and run with
``spark.sql``. Spark's own catalog has no UPDATE or DELETE on plain files, so
tables live here as Parquet folders: ``CREATE TABLE AS`` writes one, ``INSERT``
adds one, ``UPDATE`` and ``DELETE`` write the table anew with the changed rows;
each table is a temporary view over its folders. Nothing is kept in the
driver's memory except what a stage fetches.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from moneytrail.engine.spark_sql import parse_duckdb, to_spark

META_VIEW = "mt_engine_tables"


@dataclass
class _Table:
    schema: Any  # pyspark StructType
    parts: list[str] = field(default_factory=list)
    temp: bool = False

    def __post_init__(self) -> None:
        # every column may hold NULL, as in DuckDB: a later INSERT may bring some, and a
        # "not null" schema would let Spark's optimiser drop `IS NULL` tests
        from pyspark.sql.types import StructField, StructType

        self.schema = StructType([StructField(f.name, f.dataType, True) for f in self.schema.fields])


class SparkResult:
    """The result of one statement, fetched the way DuckDB's are."""

    def __init__(self, df: Any = None, arrow: pa.Table | None = None) -> None:
        self._df = df
        self._arrow = arrow
        self.timed: tuple[Callable[[float, str], None], str] | None = None  # (note, label) of the fetch

    def to_arrow_table(self) -> pa.Table:
        if self._arrow is None:
            t0 = time.perf_counter()
            self._arrow = _naive_utc(self._df.toArrow()) if self._df is not None else pa.table({"Count": [0]})
            if self.timed is not None:  # a query runs when it is fetched
                self.timed[0](time.perf_counter() - t0, "fetch: " + self.timed[1])
        return self._arrow

    arrow = fetch_arrow_table = to_arrow_table

    def fetchall(self) -> list[tuple[Any, ...]]:
        t = self.to_arrow_table()
        cols = [c.to_pylist() for c in t.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def fetchnumpy(self) -> dict[str, Any]:
        t = self.to_arrow_table()
        return {name: t.column(name).to_numpy(zero_copy_only=False) for name in t.column_names}

    def fetchdf(self) -> Any:
        return self.to_arrow_table().to_pandas()

    df = fetch_df = fetchdf

    @property
    def description(self) -> list[tuple[str, ...]]:
        return [(name,) for name in self.to_arrow_table().column_names]


def _naive_utc(t: pa.Table) -> pa.Table:
    """Spark's timestamps come back tz-aware in UTC; DuckDB's TIMESTAMP are naive UTC."""
    cols = []
    for f, col in zip(t.schema, t.columns, strict=True):
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            col = col.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        cols.append(col)
    return pa.Table.from_arrays(cols, names=t.column_names)


def _literal(value: Any) -> exp.Expression:
    lit = exp.convert(value)
    assert isinstance(lit, exp.Expression)
    return lit


class SparkConnection:
    """DuckDB's connection surface (the part the stages use) over a SparkSession."""

    def __init__(self, spark: Any, root: Path) -> None:
        self.spark = spark
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.tables: dict[str, _Table] = {}
        self.views: set[str] = set()
        self.registered: set[str] = set()
        self.written: set[str] = set()
        self.statements = 0
        self.timings: list[tuple[float, str]] = []  # (seconds, statement), for the benchmarks
        self.log: Path | None = None  # if set, each statement's seconds as a JSON line, as it ends
        # DuckDB settings a stage SETs (memory_limit...): they mean nothing to Spark, but a stage
        # may read back what it set with current_setting()
        self.settings: dict[str, str] = {}

    # ---- the DuckDB surface -------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> SparkResult:
        tree = parse_duckdb(sql)
        if params:
            tree = _bind(tree, list(params))
        self.statements += 1
        t0 = time.perf_counter()
        result = self._run(tree)
        label = " ".join(sql.split())[:160]
        self._note(time.perf_counter() - t0, label)
        if result._df is not None:
            result.timed = (self._note, label)
        return result

    def _note(self, seconds: float, label: str) -> None:
        self.timings.append((seconds, label))
        if self.log is not None:
            with self.log.open("a") as fh:
                fh.write(json.dumps({"at": time.strftime("%H:%M:%S"), "seconds": round(seconds, 3), "sql": label}) + "\n")

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> SparkResult:
        tree = parse_duckdb(sql)
        rows = [list(r) for r in rows]
        if not isinstance(tree, exp.Insert) or not isinstance(tree.expression, exp.Values):
            for row in rows:
                self.execute(sql, row)
            return SparkResult(arrow=pa.table({"Count": [len(rows)]}))
        name, columns = _insert_target(tree)
        target = self.tables[name]
        names = columns or list(target.schema.fieldNames())
        data = pa.table({n: pa.array([r[i] for r in rows]) for i, n in enumerate(names)}) if rows else None
        if data is None:
            return SparkResult(arrow=pa.table({"Count": [0]}))
        df = self.spark.createDataFrame(data.to_pandas())
        return self._append(name, df, names, by_name=False)

    def sql(self, sql: str) -> SparkResult:
        return self.execute(sql)

    def register(self, name: str, table: Any) -> None:
        """Make an Arrow table (or pandas frame) queryable by name, through a Parquet file."""
        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        folder = self._new_folder(name)
        Path(folder).mkdir(parents=True)
        pq.write_table(table, f"{folder}/part-0.parquet")
        self.spark.read.parquet(folder).createOrReplaceTempView(name)
        self.registered.add(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        self.registered.discard(name)

    def close(self) -> None:
        pass

    # ---- tables as Parquet folders -----------------------------------------
    def load_parquet(self, name: str, path: str | Path) -> None:
        """A base table from Parquet written elsewhere (ingestion)."""
        df = self.spark.read.parquet(str(path))
        self.tables[name] = _Table(df.schema, [str(path)])
        self._refresh(name)
        self.written.discard(name)

    def changed(self, name: str) -> bool:
        """Whether a statement wrote table `name` since it was loaded."""
        return name in self.written

    def table_names(self, *, include_temp: bool = True) -> list[str]:
        return sorted(n for n, t in self.tables.items() if include_temp or not t.temp)

    def write_parquet(self, name: str, path: str | Path) -> None:
        self.spark.table(name).write.mode("overwrite").parquet(str(path))

    def _new_folder(self, name: str) -> str:
        return str(self.root / name / uuid.uuid4().hex[:12])

    def _frame(self, name: str) -> Any:
        t = self.tables[name]
        if not t.parts:
            return self.spark.createDataFrame([], t.schema)
        return self.spark.read.schema(t.schema).parquet(*t.parts)

    def _refresh(self, name: str) -> None:
        self._frame(name).createOrReplaceTempView(name)
        self.views.discard(name)
        self.written.add(name)

    def _write(self, df: Any, name: str) -> str:
        folder = self._new_folder(name)
        df.write.mode("overwrite").parquet(folder)
        return folder

    def _replace(self, name: str, df: Any, *, temp: bool) -> None:
        """Materialise `df` as the whole of table `name`."""
        from pyspark.sql.types import NullType, StringType

        for f in df.schema.fields:
            if isinstance(f.dataType, NullType):  # Parquet has no NULL type; DuckDB would pick one
                df = df.withColumn(f.name, df[f.name].cast(StringType()))
        self._install(name, self._write(df, name), df.schema, temp=temp)

    def _install(self, name: str, folder: str, schema: Any, *, temp: bool) -> None:
        """Make the Parquet folder `folder` the whole of table `name`."""
        old = self.tables.get(name)
        self.tables[name] = _Table(schema, [folder], temp=temp)
        self._refresh(name)
        if old:
            self._remove(old)

    def _remove(self, table: _Table) -> None:
        for part in table.parts:
            if Path(part).is_relative_to(self.root):
                shutil.rmtree(part, ignore_errors=True)

    def _append(self, name: str, df: Any, columns: list[str], *, by_name: bool) -> SparkResult:
        from pyspark.sql import functions as F

        target = self.tables[name]
        if by_name:
            df = df.select(*[F.col(f"`{c}`") for c in columns if c in df.columns])
            columns = [c for c in columns if c in df.columns]
        if len(df.columns) != len(columns):
            raise ValueError(f"INSERT INTO {name}: {len(df.columns)} values for {len(columns)} columns")
        renamed = df.toDF(*columns)
        cols = []
        for f in target.schema.fields:
            expr = renamed[f"`{f.name}`"] if f.name in columns else F.lit(None)
            cols.append(expr.cast(f.dataType).alias(f.name))
        folder = self._write(renamed.select(*cols), name)
        target.parts.append(folder)
        self._refresh(name)
        return _count_result(lambda: self.spark.read.parquet(folder).count())

    # ---- statements ---------------------------------------------------------
    def _run(self, tree: exp.Expression) -> SparkResult:
        if isinstance(tree, exp.Create):
            return self._create(tree)
        if isinstance(tree, exp.Insert):
            name, columns = _insert_target(tree)
            query = tree.expression
            if tree.args.get("with") is not None and isinstance(query, exp.Query):
                query = query.copy()
                query.set("with", tree.args["with"].copy())
            if isinstance(query, exp.Values):
                query = exp.select("*").from_(query.copy())
            df = self.spark.sql(self._spark_sql(query))
            names = columns or list(self.tables[name].schema.fieldNames())
            return self._append(name, df, names, by_name=bool(tree.args.get("by_name")))
        if isinstance(tree, exp.Delete):
            return self._delete(tree)
        if isinstance(tree, exp.Update):
            return self._update(tree)
        if isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or [tree.this]:
                name = table.name
                if name in self.tables:
                    self._remove(self.tables.pop(name))
                self.views.discard(name)
                self.spark.catalog.dropTempView(name)
            return SparkResult(arrow=pa.table({"Success": [True]}))
        if isinstance(tree, exp.Describe):
            df = self.spark.table(tree.this.name)
            rows = [(f.name, f.dataType.simpleString().upper(), "YES", None, None, None) for f in df.schema.fields]
            names = ["column_name", "column_type", "null", "key", "default", "extra"]
            return SparkResult(arrow=pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}))
        if isinstance(tree, (exp.Transaction, exp.Commit, exp.Rollback)):
            return SparkResult(arrow=pa.table({"Success": [True]}))
        if isinstance(tree, exp.Set):
            for item in tree.expressions:
                eq = item.this if isinstance(item, exp.SetItem) else None
                if isinstance(eq, exp.EQ):
                    self.settings[eq.this.name.lower()] = eq.expression.name
            return SparkResult(arrow=pa.table({"Success": [True]}))
        return SparkResult(df=self.spark.sql(self._spark_sql(tree)))

    def _spark_sql(self, tree: exp.Expression) -> str:
        tree = self._catalog_refs(tree)
        return to_spark(self._settings_refs(tree))

    def _settings_refs(self, tree: exp.Expression) -> exp.Expression:
        """`current_setting('x')`: what a stage SET x to on this connection, else NULL."""
        calls = [n for n in tree.find_all(exp.Anonymous) if n.name.lower() == "current_setting"]
        for call in calls:
            arg = call.expressions[0] if call.expressions else None
            value = self.settings.get(arg.name.lower()) if isinstance(arg, exp.Literal) else None
            new = exp.Literal.string(value) if value is not None else exp.cast(exp.null(), "VARCHAR")
            if call is tree:
                return new
            call.replace(new)
        return tree

    def _catalog_refs(self, tree: exp.Expression) -> exp.Expression:
        """`information_schema.tables` and `duckdb_tables()` read this warehouse's catalog."""
        hit = False
        tree = tree.copy()
        for table in list(tree.find_all(exp.Table)):
            fn = table.this
            if (table.db.lower() == "information_schema" and table.name.lower() == "tables") or (
                isinstance(fn, exp.Anonymous) and fn.name.lower() == "duckdb_tables"
            ):
                table.replace(exp.to_table(META_VIEW).as_(table.alias_or_name or "tables"))
                hit = True
        if hit:
            rows = [(n, "VIEW" if n in self.views else "BASE TABLE", "temp" if t.temp else "memory", "main")
                    for n, t in self.tables.items()]
            rows += [(n, "VIEW", "temp", "main") for n in self.views if n not in self.tables]
            cols = ["table_name", "table_type", "table_catalog", "table_schema"]
            data = pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(cols)})
            self.spark.createDataFrame(data.to_pandas() if rows else [], ", ".join(f"{c} STRING" for c in cols)) \
                .createOrReplaceTempView(META_VIEW)
        return tree

    def _create(self, tree: exp.Create) -> SparkResult:
        kind = (tree.args.get("kind") or "").upper()
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        temp = any(isinstance(p, exp.TemporaryProperty) for p in (tree.args.get("properties") or exp.Properties()).expressions)
        done = SparkResult(arrow=pa.table({"Success": [True]}))
        if kind == "VIEW":
            self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW `{name}` AS {self._spark_sql(tree.expression)}")
            if name in self.tables:
                self._remove(self.tables.pop(name))
            self.views.add(name)
            return done
        if kind != "TABLE":
            raise NotImplementedError(f"the Spark engine cannot run CREATE {kind}")
        exists = name in self.tables or name in self.views
        if exists and tree.args.get("exists"):
            return done
        if tree.expression is not None:
            self._replace(name, self.spark.sql(self._spark_sql(tree.expression)), temp=temp)
            return done
        assert isinstance(target, exp.Schema)
        ddl = ", ".join(
            f"`{c.name}` {spark_type(c.args['kind'].sql('duckdb'))}" for c in target.expressions if isinstance(c, exp.ColumnDef)
        )
        if name in self.tables:
            self._remove(self.tables[name])
        self.tables[name] = _Table(self.spark.createDataFrame([], ddl).schema, [], temp=temp)
        self._refresh(name)
        return done

    def _delete(self, tree: exp.Delete) -> SparkResult:
        name = tree.this.name
        where = tree.args.get("where")
        before = self.tables[name]
        if where is None:
            self._remove(before)
            self.tables[name] = _Table(before.schema, [], temp=before.temp)
            self._refresh(name)
            return SparkResult(arrow=pa.table({"Count": [0]}))
        keep = exp.select("*").from_(exp.to_table(name).as_(tree.this.alias_or_name)).where(
            exp.not_(exp.func("coalesce", where.this.copy(), exp.false()))
        )
        self._replace(name, self.spark.sql(self._spark_sql(keep)), temp=before.temp)
        return SparkResult(arrow=pa.table({"Count": [0]}))

    def _update(self, tree: exp.Update) -> SparkResult:
        """UPDATE t SET c = e [FROM s] WHERE w, as: find t's matched rows with their new values
        (first match wins, as in DuckDB) and write them, narrow, aside; then, if any matched,
        write t anew with them.

        A row is known by its place in the Parquet files (a hash of ``_metadata.file_path``,
        and ``row_index``): the same in every scan of the table, so the matches are found in
        one scan and applied in another. (A ``monotonically_increasing_id()`` numbering read
        twice made Spark materialise the whole numbered table first, a round-robin shuffle of
        every row and column, at each UPDATE.) The matches, written aside, are counted: none
        leaves the table as it is, and up to :data:`BROADCAST_MATCHES` of them are broadcast
        to the rewrite, which then reads and writes the table once without a shuffle of its
        rows. The file's key is a 64-bit hash of its path (two files of one table colliding:
        about n_files^2 / 2^65), so that the broadcast holds numbers, not paths."""
        from pyspark.sql import functions as F

        name = tree.this.name
        alias = tree.this.alias_or_name
        before = self.tables[name]
        if not before.parts:
            return SparkResult(arrow=pa.table({"Count": [0]}))
        cols = list(before.schema.fieldNames())
        sets = {e.this.name: e.expression for e in tree.expressions}
        where = tree.args.get("where")
        source = tree.args.get("from_") or tree.args.get("from")
        done = self._update_in_one_pass(name, alias, sets, where, source)
        if done is not None:
            return done
        self._frame(name).select(
            "*", F.xxhash64(F.col("_metadata.file_path")).alias("__mt_file"), F.col("_metadata.row_index").alias("__mt_idx")
        ).createOrReplaceTempView("__mt_numbered")
        match = exp.select(exp.column("__mt_file", table=alias), exp.column("__mt_idx", table=alias), *[
            exp.alias_(v.copy(), f"__mt_{c}") for c, v in sets.items()
        ]).from_(exp.to_table("__mt_numbered").as_(alias))
        if source is not None:
            first = source.this.copy()
            joins = first.args.pop("joins", None) or []
            match = match.join(first, join_type="cross")
            for j in joins:
                match = match.join(j.this.copy(), on=j.args.get("on"), join_type="cross" if not j.args.get("on") else "inner")
        if where is not None:
            match = match.where(where.this.copy())
        firsts = ", ".join(f"first(`__mt_{c}`) AS `__mt_{c}`" for c in sets)
        found = self.spark.sql(
            f"WITH __mt_match AS ({self._spark_sql(match)}) "
            f"SELECT __mt_file, __mt_idx, {firsts} FROM __mt_match GROUP BY __mt_file, __mt_idx"
        )
        # in the column's type (a NULL literal has none, and Parquet no NULL type)
        found = found.select("__mt_file", "__mt_idx", *[
            found[f"`__mt_{c}`"].cast(before.schema[c].dataType).alias(f"__mt_{c}") for c in sets
        ])
        aside = self._write(found, "__mt_update")
        try:
            matched = self.spark.read.schema(found.schema).parquet(aside)
            n = matched.count()
            if n:
                matched.createOrReplaceTempView("__mt_matched")
                hint = "/*+ BROADCAST(m) */ " if n <= BROADCAST_MATCHES else ""
                out = ", ".join(
                    (f"CASE WHEN m.__mt_idx IS NULL THEN t.`{c}` ELSE m.`__mt_{c}` END AS `{c}`" if c in sets else f"t.`{c}`")
                    for c in cols
                )
                df = self.spark.sql(
                    f"SELECT {hint}{out} FROM __mt_numbered t LEFT JOIN __mt_matched m "
                    "ON m.__mt_file = t.__mt_file AND m.__mt_idx = t.__mt_idx"
                )
                df = df.select(*[df[f"`{f.name}`"].cast(f.dataType).alias(f.name) for f in before.schema.fields])
                self._replace(name, df, temp=before.temp)
        finally:
            self.spark.catalog.dropTempView("__mt_numbered")
            self.spark.catalog.dropTempView("__mt_matched")
            shutil.rmtree(aside, ignore_errors=True)
        return SparkResult(arrow=pa.table({"Count": [n]}))

    def _update_in_one_pass(
        self, name: str, alias: str, sets: dict[str, exp.Expression], where: exp.Expression | None, source: Any
    ) -> SparkResult | None:
        """UPDATE in one read and one write of the table, when it can be: the table LEFT JOINed
        to the source on the WHERE (or, without a source, each row tested by it), each SET
        column a CASE of matched or not. A row that matches two source rows would come out
        twice, where DuckDB's UPDATE takes the first match: the rows read and written are
        counted while the table is written (``observe``), and if they differ the new folder
        is dropped (None: the caller takes the general way). Not tried for a source with
        joins, or for a WHERE with a subquery when there is a source (a join condition
        cannot hold one)."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        before = self.tables[name]
        if source is not None:
            src = source.this
            if (where is None or src.args.get("joins") or not isinstance(src, (exp.Table, exp.Subquery))
                    or any(where.find_all(exp.Subquery, exp.Exists))):
                return None
            s_alias = src.alias_or_name
            inner = src.copy()
            inner.set("alias", exp.TableAlias(this=exp.to_identifier("__mt_s")))
            hit: exp.Expression = exp.column("__mt_hit", table=s_alias)
            joined = exp.select("__mt_s.*", exp.alias_(exp.true(), "__mt_hit")).from_(inner).subquery(s_alias)
        else:
            test = where.this.copy() if where is not None else exp.true()
            hit = exp.Coalesce(this=test, expressions=[exp.false()])
        seen, wrote = Observation(), Observation()
        self._frame(name).observe(seen, F.count(F.lit(1)).alias("rows")).createOrReplaceTempView("__mt_target")
        items: list[Any] = []
        for c in before.schema.fieldNames():
            col = exp.column(c, table=alias, quoted=True)
            if c in sets:
                value = exp.Case(ifs=[exp.If(this=hit.copy(), true=sets[c].copy())], default=col)
                items.append(exp.alias_(value, c, quoted=True))  # cast to the column's type below
            else:
                items.append(exp.alias_(col, c, quoted=True))
        items.append(exp.alias_(hit.copy(), "__mt_matched"))
        query = exp.select(*items).from_(exp.to_table("__mt_target").as_(alias))
        if source is not None:
            assert where is not None
            query = query.join(joined, on=where.this.copy(), join_type="left")
        try:
            df = self.spark.sql(self._spark_sql(query))
            df = df.observe(wrote, F.count(F.lit(1)).alias("rows"),
                            F.count(F.when(F.col("__mt_matched"), 1)).alias("matched"))
            out = df.select(*[df[f"`{f.name}`"].cast(f.dataType).alias(f.name) for f in before.schema.fields])
            folder = self._write(out, name)
        finally:
            self.spark.catalog.dropTempView("__mt_target")
        if wrote.get["rows"] != seen.get["rows"]:  # a row matched twice: the general way
            shutil.rmtree(folder, ignore_errors=True)
            return None
        self._install(name, folder, before.schema, temp=before.temp)
        return SparkResult(arrow=pa.table({"Count": [int(wrote.get["matched"])]}))


# matched rows of an UPDATE that are broadcast to the rewrite (three numbers and the new values
# a row: about 50 MB at two million); more are joined by a shuffle of both sides
BROADCAST_MATCHES = 2_000_000


_UNSIGNED = {"UTINYINT": "SMALLINT", "USMALLINT": "INT", "UINTEGER": "BIGINT", "UBIGINT": "BIGINT", "HUGEINT": "DECIMAL(38,0)"}


def spark_type(duckdb_type: str) -> str:
    """Spark SQL type of a DuckDB column type (TIMESTAMP is naive UTC: Spark's TIMESTAMP in a UTC session)."""
    upper = duckdb_type.upper()
    if upper in _UNSIGNED:
        return _UNSIGNED[upper]
    out = exp.DataType.build(duckdb_type, dialect="duckdb").sql("spark")
    return "TIMESTAMP" if out == "TIMESTAMP_NTZ" else out


def _count_result(count: Any) -> SparkResult:
    class _Lazy(SparkResult):
        def to_arrow_table(self) -> pa.Table:
            if self._arrow is None:
                self._arrow = pa.table({"Count": [int(count())]})
            return self._arrow

    return _Lazy()


def _insert_target(tree: exp.Insert) -> tuple[str, list[str]]:
    target = tree.this
    if isinstance(target, exp.Schema):
        return target.this.name, [c.name for c in target.expressions]
    return target.name, []


def _bind(tree: exp.Expression, params: list[Any]) -> exp.Expression:
    """Replace `?` placeholders, in order, with literals."""
    tree = tree.copy()
    it = iter(params)
    for node in list(tree.find_all(exp.Placeholder, bfs=False)):
        node.replace(_literal(next(it)))
    rest = list(itertools.islice(it, 1))
    if rest:
        raise ValueError("more parameters than placeholders")
    return tree


__all__ = ["SparkConnection", "SparkResult"]
