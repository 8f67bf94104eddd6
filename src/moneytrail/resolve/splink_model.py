"""The Splink model: comparisons, training and scoring, kept in one place.

The backend is a parameter: DuckDB (default, an in-memory connection beside the
warehouse) or Spark. Records reach Splink as *profiles* (distinct compared
values); the pairs to score are computed by :mod:`moneytrail.resolve.blocking`
and registered with ``register_blocked_pairs_for_predict``, so Splink's own
blocking rules are only used to train.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.internals.comparison_creator import ComparisonCreator

from moneytrail.resolve.config import ResolveSettings
from moneytrail.resolve.names import install_macros

logging.getLogger("splink").setLevel(logging.ERROR)

# Columns the model reads, in the order the profiles table is handed over.
# Splink's own DuckDB keeps to this share of the machine (the warehouse to
# run.RESOLVE_MEMORY while resolving): scoring spills rather than doubling the peak.
SPLINK_MEMORY = "12%"

# Rows per record batch of SplinkModel.predict_reader.
PREDICT_BATCH_ROWS = 1 << 17

# A pair of name numbers (SplinkModel._prediction_sql) as one key: left * _NK_SPAN + right.
_NK_SPAN = 1 << 32

MODEL_COLUMNS = (
    "pid",
    "name_sorted",
    "name_tokens",
    "dob",
    "phone",
    "email",
    "email_user",
    "address",
    "city",
    "country",
    "id_doc",
)

COMPARISON_NAMES = ("name", "dob", "phone", "email", "id_doc", "address", "city", "country")
TF_COMPARISONS = ("name", "city")


def _dl1(col: str, expr: str | None = None) -> str:
    """One character substituted (Hamming distance 1 on strings of equal length:
    DuckDB's Damerau-Levenshtein costs ~100 times more per pair)."""
    e_l = (expr or "{c}").format(c=f"{col}_l")
    e_r = (expr or "{c}").format(c=f"{col}_r")
    return f"(length({e_l}) = length({e_r}) AND hamming({e_l}, {e_r}) <= 1)"


def _swap2(col: str, expr: str | None = None) -> str:
    """Two characters swapped ("1981" for "1918"): the same characters, two positions differ."""
    e_l = (expr or "{c}").format(c=f"{col}_l")
    e_r = (expr or "{c}").format(c=f"{col}_r")
    return (
        f"(length({e_l}) = length({e_r}) AND hamming({e_l}, {e_r}) = 2 AND "
        f"list_sort(string_split({e_l}, '')) = list_sort(string_split({e_r}, '')))"
    )


def comparisons() -> list[ComparisonCreator | dict[str, Any]]:
    """The comparisons, strongest level first. Labels are shown by explanations."""
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_sorted"),
            cll.ExactMatchLevel("name_sorted", term_frequency_adjustments=True).configure(
                label_for_charts="same name (any token order)"
            ),
            cll.JaroWinklerLevel("name_sorted", 0.95).configure(label_for_charts="name typo"),
            cll.CustomLevel(
                # CASE, not AND: DuckDB evaluates the costly macro only where
                # the names share a token
                "CASE WHEN len(list_intersect(name_tokens_l, name_tokens_r)) > 0 "
                "THEN mt_names_compatible(name_tokens_l, name_tokens_r) ELSE FALSE END",
                "initials, abbreviated or extra names",
            ),
            cll.JaroWinklerLevel("name_sorted", 0.85).configure(label_for_charts="similar name"),
            cll.CustomLevel("mt_shared_token(name_tokens_l, name_tokens_r)", "one name in common"),
            cll.CustomLevel("mt_similar_token(name_tokens_l, name_tokens_r)", "a similar name word"),
            cll.ElseLevel().configure(label_for_charts="different names"),
        ],
    )
    dob_str = "strftime({c}, '%Y%m%d')"
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob").configure(label_for_charts="same date of birth"),
            cll.CustomLevel(
                f"{_dl1('dob', dob_str)} OR (day(dob_l) = month(dob_r) AND month(dob_l) = day(dob_r)"
                f" AND year(dob_l) = year(dob_r)) OR {_swap2('dob', dob_str)}",
                "date of birth typo, two digits or day/month swapped",
            ),
            cll.CustomLevel("year(dob_l) = year(dob_r)", "same year of birth"),
            cll.ElseLevel().configure(label_for_charts="different dates of birth"),
        ],
    )
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone"),
            cll.ExactMatchLevel("phone").configure(label_for_charts="same phone"),
            cll.CustomLevel("right(phone_l, 8) = right(phone_r, 8)", "same last 8 digits"),
            cll.CustomLevel(_dl1("phone"), "phone typo"),
            cll.ElseLevel().configure(label_for_charts="different phones"),
        ],
    )
    email = cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email").configure(label_for_charts="same email"),
            cll.CustomLevel("email_user_l = email_user_r", "same user name, other domain"),
            cll.JaroWinklerLevel("email", 0.92).configure(label_for_charts="similar email"),
            cll.ElseLevel().configure(label_for_charts="different emails"),
        ],
    )
    id_doc = cl.CustomComparison(
        output_column_name="id_doc",
        comparison_levels=[
            cll.NullLevel("id_doc"),
            cll.ExactMatchLevel("id_doc").configure(label_for_charts="same identity document"),
            cll.CustomLevel(_dl1("id_doc"), "document number typo"),
            cll.CustomLevel(_swap2("id_doc"), "document number with two characters swapped"),
            cll.ElseLevel().configure(label_for_charts="different documents"),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("address"),
            cll.ExactMatchLevel("address").configure(label_for_charts="same address"),
            cll.JaroWinklerLevel("address", 0.9).configure(label_for_charts="similar address"),
            cll.CustomLevel("mt_half_words(address_l, address_r)", "half the words in common"),
            cll.ElseLevel().configure(label_for_charts="different addresses"),
        ],
    )
    city = cl.CustomComparison(
        output_column_name="city",
        comparison_levels=[
            cll.NullLevel("city"),
            cll.ExactMatchLevel("city", term_frequency_adjustments=True).configure(
                label_for_charts="same city"
            ),
            cll.JaroWinklerLevel("city", 0.9).configure(label_for_charts="similar city"),
            cll.ElseLevel().configure(label_for_charts="different cities"),
        ],
    )
    country = cl.CustomComparison(
        output_column_name="country",
        comparison_levels=[
            cll.NullLevel("country"),
            cll.ExactMatchLevel("country").configure(label_for_charts="same country"),
            cll.ElseLevel().configure(label_for_charts="different countries"),
        ],
    )
    return [name, dob, phone, email, id_doc, address, city, country]


TRAINING_RULES = (
    block_on("dob"),
    block_on("name_sorted"),
    block_on("phone"),
    block_on("email"),
)


def settings_creator() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="pid",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[block_on("name_sorted")],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
        probability_two_random_records_match=1e-4,
        max_iterations=25,
    )


def _register_tf(linker: Linker, db_api: Any, profiles: pa.Table) -> dict[str, str]:
    """Term-frequency lookups of the TF comparisons, from `profiles`; column -> table name."""
    tables: dict[str, str] = {}
    for col in ("name_sorted", "city"):
        values = profiles.column(col).drop_null()
        if len(values) == 0:
            tf = pa.table({col: pa.array([], pa.string()), f"tf_{col}": pa.array([], pa.float64())})
        else:
            counts = values.value_counts()
            vals = counts.field("values")
            n = counts.field("counts").cast(pa.float64())
            total = float(len(values))
            tf = pa.table({col: vals, f"tf_{col}": pa.compute.divide(n, total)})
        sdf = db_api.register(tf, table_name=f"mt_tf_{col}")
        linker.table_management.register_term_frequency_lookup(sdf, col)
        tables[col] = f"mt_tf_{col}"
    return tables


def _predictions(linker: Linker, db_api: Any, pairs: pa.Table) -> Any:
    """Splink's own ``linker.inference.predict`` on the given pairs, on the linker's
    backend: the SplinkDataFrame of its predictions."""
    blocked = pa.table(
        {
            "match_key": pa.array(["0"] * pairs.num_rows, pa.string()),
            "join_key_l": pairs.column("pid_l"),
            "join_key_r": pairs.column("pid_r"),
        }
    )
    sdf = db_api.register(blocked, table_name=f"mt_pairs_{id(blocked)}")
    linker.table_management.register_blocked_pairs_for_predict(sdf)
    return linker.inference.predict(warning_mode="never")


def _output_sql(source: str, min_weight: float | None) -> str:
    """The scored pairs as moneytrail keeps them, from Splink's predictions in `source`."""
    cols = []
    for comp in COMPARISON_NAMES:
        tf = f" + coalesce(p.mw_tf_adj_{comp}, 0)" if comp in TF_COMPARISONS else ""
        cols.append(f"p.mw_{comp} AS lvl_{comp}, p.mw_{comp}{tf} AS w_{comp}")
    return (
        f"SELECT p.pid_l, p.pid_r, p.match_weight, p.match_probability, {', '.join(cols)} FROM {source} p"
        + ("" if min_weight is None else f" WHERE p.match_weight >= {float(min_weight)!r}")
    )


def _weights_sql(settings: Any, ctes: list[tuple[str, str]], min_weight: float | None) -> str:
    """Splink's match-weight SQL (``predict_from_comparison_vectors_sqls_using_settings``)
    over `ctes`, the last of which is ``__splink__df_comparison_vectors``."""
    from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings

    sqls = predict_from_comparison_vectors_sqls_using_settings(settings, None, None)
    ctes = ctes + [(q["output_table_name"], q["sql"]) for q in sqls]
    return "WITH " + ", ".join(f"{name} AS ({body})" for name, body in ctes) + " " + _output_sql(ctes[-1][0], min_weight)


# Spark's log2 and pow differ from DuckDB's in the last bit: the Spark predictions are kept
# this far below the asked weight, and their weights computed again by DuckDB
_SPARK_WEIGHT_MARGIN = 1e-6


class SplinkModel:
    """A Splink linker over a table of profiles, on the chosen backend."""

    def __init__(
        self,
        profiles: pa.Table,
        *,
        backend: str = "duckdb",
        model: dict[str, Any] | None = None,
        spark: Any = None,
        tf_source: pa.Table | None = None,
    ) -> None:
        if backend not in ("duckdb", "spark"):
            raise ValueError(f"unknown Splink backend {backend!r}")
        self.backend = backend
        self.failed_rules: list[str] = []
        # Training runs on DuckDB in the driver for both backends (a fixed cost: samples of
        # at most em_max_pairs / u_max_pairs), so both give the same model; with "spark",
        # predict() scores the pairs on the Spark session (moneytrail.engine.splink_spark).
        from splink.backends.duckdb import DuckDBAPI

        self.con = duckdb.connect()
        # beside the warehouse's DuckDB (run.RESOLVE_MEMORY while resolving), spilling
        # to a directory of its own (an in-memory DuckDB would spill into ./.tmp), under
        # MONEYTRAIL_TEMP_DIR when set, with the warehouse's spill
        spill_root = os.environ.get("MONEYTRAIL_TEMP_DIR") or None
        if spill_root:
            Path(spill_root).mkdir(parents=True, exist_ok=True)
        self._spill = tempfile.mkdtemp(prefix="moneytrail-splink-", dir=spill_root)
        self.con.execute(f"SET memory_limit = '{SPLINK_MEMORY}'")
        self.con.execute(f"SET temp_directory = '{self._spill}'")
        install_macros(self.con)
        self.db_api: Any = DuckDBAPI(self.con)
        self.spark: Any = None
        if backend == "spark":
            from moneytrail.engine.session import active_spark

            self.spark = spark if spark is not None else active_spark()
        self._profiles_arrow = profiles
        self._tf_source = tf_source if tf_source is not None else profiles
        self.profiles = self.db_api.register(profiles, table_name="mt_profiles")
        settings: Any = model if model is not None else settings_creator()
        self.linker = Linker(self.profiles, settings, log_level=None)
        self._tf_tables = _register_tf(self.linker, self.db_api, self._tf_source)

    def train(self, settings: ResolveSettings, labels: pa.Table | None = None) -> None:
        """u by random sampling; m by EM on the data itself, or from labelled pairs."""
        training = self.linker.training
        training.estimate_probability_two_random_records_match(
            [
                block_on("name_sorted", "dob"),
                block_on("email", "name_sorted"),
                block_on("phone", "name_sorted"),
            ],
            recall=0.6,
        )
        self._keep_prior_inside(self._profiles_arrow.num_rows)
        training.estimate_u_using_random_sampling(max_pairs=settings.u_max_pairs, seed=settings.seed)
        if labels is not None and labels.num_rows:
            sdf = self.db_api.register(labels, table_name="mt_labels")
            training.estimate_m_from_pairwise_labels(sdf)
            self._apply_floors(settings.m_floor)
            return
        for rule in TRAINING_RULES:
            saved = copy.deepcopy(self.linker._settings_obj)
            try:
                training.estimate_parameters_using_expectation_maximisation(
                    rule,
                    estimate_without_term_frequencies=True,
                    max_pairs=settings.em_max_pairs,
                )
            except Exception as exc:  # too few pairs, or a level never seen: skip this pass
                self.linker._settings_obj = saved
                self.failed_rules.append(f"{rule.get_blocking_rule('duckdb').blocking_rule_sql}: {exc}")
        self._apply_floors(settings.m_floor)

    def _keep_prior_inside(self, n_profiles: int) -> None:
        """Keep the prior match probability strictly between 0 and 1.

        On a small bundle no two profiles may agree on the deterministic rules' keys, and
        Splink then estimates 0 (every match weight log2(0): "math domain error"). Finding
        none among n profiles' pairs says fewer than one match is expected among them."""
        obj = self.linker._settings_obj
        lam = obj._probability_two_random_records_match
        pairs = max(1.0, n_profiles * (n_profiles - 1) / 2)
        if not 0.0 < lam < 1.0:
            obj._probability_two_random_records_match = 1 / (pairs + 1) if lam <= 0 else pairs / (pairs + 1)

    def _apply_floors(self, m_floor: float) -> None:
        """Keep 'different X' levels from being impossible among matches.

        EM on clean data learns m = 0 for "different phones" or "different cities"
        (weight minus infinity); people do change phones, move and make typos, so
        the m probability of every else-level is kept at ``m_floor`` or above."""
        for comp in self.linker._settings_obj.comparisons:
            for lvl in comp.comparison_levels:
                if lvl.is_null_level or not lvl._is_else_level:
                    continue
                m = lvl._m_probability
                if not isinstance(m, float) or m < m_floor:
                    lvl.m_probability = m_floor

    def model_json(self) -> str:
        return json.dumps(self.linker.misc.save_model_to_json())

    def predict(self, pairs: pa.Table, *, min_weight: float | None = None) -> pa.Table:
        """Score the given (pid_l, pid_r) pairs; returns one row per pair (with
        ``min_weight``, only the pairs whose match weight is at least that)."""
        if self.backend == "spark":
            return self.predict_spark(pairs, min_weight=min_weight)
        return self._predict_duckdb(pairs, min_weight=min_weight)

    def predict_splink(self, pairs: pa.Table, *, min_weight: float | None = None) -> pa.Table:
        """:meth:`predict` through Splink's own ``linker.inference.predict``, on DuckDB."""
        pred = _predictions(self.linker, self.db_api, pairs)
        table: pa.Table = self.con.sql(_output_sql(pred.physical_name, min_weight)).to_arrow_table()
        pred.drop_table_from_database_and_remove_from_cache()
        return table

    def predict_spark(self, pairs: pa.Table, *, min_weight: float | None = None) -> pa.Table:
        """:meth:`predict` on the Spark session: Splink's ``SparkAPI`` with this (trained)
        model, its conditions in Spark SQL (:func:`moneytrail.engine.splink_spark.spark_settings`).
        Blocking of the given pairs, the comparisons and the match weights run on Spark;
        only the pairs kept (``min_weight``, less a hair) come back, as comparison vectors,
        and DuckDB computes their weights again with the same SQL (Spark's ``log2`` and
        ``pow`` round differently in the last bit): the figures of the DuckDB backend."""
        from moneytrail.engine.splink_spark import deep_sql

        if self.spark is None:
            raise ValueError("predict_spark needs a SparkSession (SplinkModel(..., spark=...))")
        with deep_sql():  # Splink parses the deeply nested Spark conditions again
            return self._predict_spark(pairs, min_weight)

    def _predict_spark(self, pairs: pa.Table, min_weight: float | None) -> pa.Table:
        from moneytrail.engine.splink_spark import comparison_vectors

        tf = {col: self.con.sql(f"SELECT * FROM {t}").to_arrow_table() for col, t in self._tf_tables.items()}
        floor = None if min_weight is None else float(min_weight) - _SPARK_WEIGHT_MARGIN
        vectors = comparison_vectors(
            self.spark, self.linker.misc.save_model_to_json(), self._profiles_arrow, tf, pairs, floor
        )
        self.con.register("_mt_cv_arrow", vectors)
        try:
            sql = _weights_sql(
                self.linker._settings_obj, [("__splink__df_comparison_vectors", "SELECT * FROM _mt_cv_arrow")], min_weight
            )
            table: pa.Table = self.con.sql(sql).to_arrow_table()
        finally:
            self.con.unregister("_mt_cv_arrow")
        return table

    @contextmanager
    def predict_reader(
        self, pairs: pa.Table, *, min_weight: float | None = None, batch_rows: int = PREDICT_BATCH_ROWS
    ) -> Iterator[pa.RecordBatchReader]:
        """:meth:`predict` as a stream of record batches, read inside the ``with`` block.

        On DuckDB the predictions are computed as they are read: the result is not held
        whole in Splink's DuckDB nor as one Arrow table in Python (7.5 M rows, about 1.2 GB,
        at 5 M transactions) beside the copy a DuckDB reading the stream makes
        (``CREATE TABLE ... AS SELECT * FROM reader``). On Spark the predictions come as
        one table, handed over as batches."""
        if self.backend == "spark":
            table = self.predict_spark(pairs, min_weight=min_weight)
            yield pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
            return
        with self._prediction_sql(pairs, min_weight) as sql:
            yield self.con.sql(sql).to_arrow_reader(batch_rows)

    def _predict_duckdb(self, pairs: pa.Table, *, min_weight: float | None = None) -> pa.Table:
        """:meth:`predict` on DuckDB, as one table (see :meth:`_prediction_sql`)."""
        with self._prediction_sql(pairs, min_weight) as sql:
            table: pa.Table = self.con.sql(sql).to_arrow_table()
        return table

    @contextmanager
    def _prediction_sql(self, pairs: pa.Table, min_weight: float | None) -> Iterator[str]:
        """The SQL of Splink's prediction (the tables it reads live inside the ``with``
        block), with the name comparison evaluated once per distinct pair of names.

        The name levels (token macros, Jaro-Winkler) are most of the cost of scoring,
        and a pair of names recurs across many pairs of profiles (about six times at a
        million transactions). The comparison vector is built here from Splink's own
        CASE statements, the name one on the distinct (name, tokens) pairs, and the
        match weights by Splink's own SQL (``predict_from_comparison_vectors_sqls_using_settings``):
        the same figures as ``linker.inference.predict`` on the same pairs."""
        settings = self.linker._settings_obj
        by_name = {c.output_column_name: c for c in settings.comparisons}
        name_case = by_name["name"]._case_statement
        cv_cols = [
            "g.gamma_name" if col == name_case else col
            for col in settings._columns_to_select_for_comparison_vector_values
        ]
        if "g.gamma_name" not in cv_cols:
            raise RuntimeError("the name comparison is not in Splink's comparison vector")
        block_cols = settings._columns_to_select_for_blocking
        tf_cols = ", ".join(f"{t}.tf_{col}" for col, t in self._tf_tables.items())
        tf_joins = " ".join(
            f"LEFT JOIN {t} ON p.{col} = {t}.{col}" for col, t in self._tf_tables.items()
        )
        con = self.con
        con.register("_mt_pairs_arrow", pairs.select(["pid_l", "pid_r"]))
        try:
            # profiles with their term frequencies (as Splink's predict joins them)
            # and a number per distinct name
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE _mt_ptf AS
                SELECT p.*, {tf_cols},
                       dense_rank() OVER (ORDER BY p.name_sorted, p.name_tokens) AS _mt_nk
                FROM mt_profiles p {tf_joins}
                """
            )
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE _mt_gname AS
                WITH k AS (
                  SELECT DISTINCT l._mt_nk AS nk_l, r._mt_nk AS nk_r
                  FROM _mt_pairs_arrow b JOIN _mt_ptf l ON l.pid = b.pid_l
                  JOIN _mt_ptf r ON r.pid = b.pid_r
                ),
                n AS (SELECT DISTINCT _mt_nk, name_sorted, name_tokens FROM _mt_ptf)
                SELECT nk_l * {_NK_SPAN} + nk_r AS nkk, {name_case} FROM (
                  SELECT k.nk_l, k.nk_r, l.name_sorted AS name_sorted_l, r.name_sorted AS name_sorted_r,
                         l.name_tokens AS name_tokens_l, r.name_tokens AS name_tokens_r
                  FROM k JOIN n l ON l._mt_nk = k.nk_l JOIN n r ON r._mt_nk = k.nk_r
                )
                """
            )
            # the name levels join the pairs by one key made of both profiles' name numbers.
            # Joined by the two numbers, DuckDB first joined the name pairs to every profile
            # holding the right-hand name (many to many: the hash table it built spilled
            # 2.6 to 3.7 GB at 5 M transactions) and probed it with the pairs; a key of both
            # sides can only be joined once both profiles are. Session 10, 5 M: predict
            # 40 -> 19 CPU s, no spill, the same rows
            ctes = [
                (
                    "blocked_with_cols",
                    f"SELECT {', '.join(block_cols)}, l._mt_nk * {_NK_SPAN} + r._mt_nk AS _mt_nkk, "
                    "'0' AS match_key FROM _mt_pairs_arrow b "
                    "JOIN _mt_ptf l ON l.pid = b.pid_l JOIN _mt_ptf r ON r.pid = b.pid_r",
                ),
                (
                    "__splink__df_comparison_vectors",
                    f"SELECT {', '.join(cv_cols)} FROM blocked_with_cols "
                    "JOIN _mt_gname g ON g.nkk = _mt_nkk",
                ),
            ]
            yield _weights_sql(settings, ctes, min_weight)
        finally:
            con.unregister("_mt_pairs_arrow")
            con.execute("DROP TABLE IF EXISTS _mt_ptf")
            con.execute("DROP TABLE IF EXISTS _mt_gname")

    def levels(self) -> dict[str, list[tuple[float, str]]]:
        """comparison -> [(match weight of the level before term frequencies, label)]."""
        out: dict[str, list[tuple[float, str]]] = {}
        for comp in self.linker._settings_obj.comparisons:
            rows = []
            for lvl in comp.comparison_levels:
                weight = 0.0 if lvl.is_null_level else float(lvl._log2_bayes_factor)
                rows.append((weight, str(lvl.label_for_charts)))
            out[comp.output_column_name] = rows
        return out

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._spill, ignore_errors=True)
