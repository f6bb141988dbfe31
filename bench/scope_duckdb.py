#!/usr/bin/env python3
"""The DuckDB baseline of `custos bench scope` (docs/BENCHMARKS.md).

Runs `custos bench scope --rows N --json`, then builds the very same
subject-access rows in DuckDB from the same integer formulas (see
crates/custos/src/bench_scope.rs), writes them as Parquet, and answers the
same scope questions with SQL over the Parquet file. Prints both answers,
checks the counts are identical and reports the speed ratio.

Usage: bench/scope_duckdb.py --custos target/release/custos --rows 1000000000 \
           --work /var/tmp/scope-bench [--threads 2]
DuckDB comes from PyPI (bench/requirements.txt); bench/scope.sh installs it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import duckdb

T0 = 1_750_723_200_000  # 2025-06-24T00:00:00Z
DAY = 86_400_000


def rows_sql(rows: int) -> str:
    # Row r: ts = T0 + r*127/10 ms; every 5th row is the attacker's.
    return f"""
    SELECT
      {T0} + (r * 127) // 10 AS ts,
      CASE WHEN r % 5 = 0 THEN 'attacker'
           ELSE 'emp-' || CAST(1 + ((r - r // 5 - 1) // 8) % 5000 AS VARCHAR) END AS principal,
      CASE WHEN r % 5 = 0 THEN 'k-2024-07'
           ELSE 'k-' || CAST((((r * 127) // 10) // {DAY}) // 30 AS VARCHAR) END AS kid,
      CASE WHEN r % 5 = 0 THEN (r // 5 * 7919) % 33700000
           ELSE ((r - r // 5 - 1) * 104729 + 17) % 34000000 END AS subject
    FROM range({rows}) t(r)
    """


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--custos", required=True)
    ap.add_argument("--rows", type=int, default=40_000_000)
    ap.add_argument("--work", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)

    print(f"== custos bench scope --rows {a.rows}", file=sys.stderr, flush=True)
    out = subprocess.run(
        [a.custos, "bench", "scope", "--rows", str(a.rows), "--json"],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    ours = json.loads(out)
    print(json.dumps({k: v for k, v in ours.items() if k != "queries"}), file=sys.stderr)

    con = duckdb.connect()
    con.execute(f"SET threads = {a.threads}")
    con.execute(f"SET temp_directory = '{a.work}/duckdb-tmp'")
    parquet = os.path.join(a.work, f"events-{a.rows}.parquet")
    if not os.path.exists(parquet):
        print(f"== writing {a.rows} rows as Parquet ({parquet})", file=sys.stderr, flush=True)
        t = time.time()
        con.execute(f"COPY ({rows_sql(a.rows)}) TO '{parquet}.tmp' (FORMAT parquet, COMPRESSION zstd)")
        os.replace(parquet + ".tmp", parquet)
        print(f"   {time.time() - t:.0f} s, {os.path.getsize(parquet) / 2**30:.2f} GiB", file=sys.stderr)

    days = ours["days"]
    lo, hi = T0, T0 + days * DAY
    questions = {
        "principal=attacker": "principal = 'attacker'",
        "kid=k-2024-07": "kid = 'k-2024-07'",
        "principal=emp-42": "principal = 'emp-42'",
    }
    results = []
    ok = True
    for q in ours["queries"]:
        where = questions[q["name"]]
        sql = (f"SELECT count(DISTINCT subject), count(*), min(ts), max(ts) "
               f"FROM read_parquet('{parquet}') WHERE {where} AND ts >= {lo} AND ts < {hi}")
        times = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            row = con.execute(sql).fetchone()
            times.append((time.perf_counter() - t) * 1e3)
        duck_ms = statistics.median(times)
        same = row[0] == q["subjects"] and row[1] == q["subject_accesses"]
        ok &= same
        results.append({
            "question": q["name"],
            "custos_subjects": q["subjects"], "duckdb_subjects": row[0],
            "custos_subject_accesses": q["subject_accesses"], "duckdb_subject_accesses": row[1],
            "identical_counts": same,
            "custos_median_ms": round(q["median_ms"], 2),
            "duckdb_median_ms": round(duck_ms, 1),
            "speedup": round(duck_ms / max(q["median_ms"], 1e-6), 1),
        })
    report = {
        "rows": a.rows, "days": days, "duckdb_version": duckdb.__version__,
        "duckdb_threads": a.threads,
        "custos": {k: v for k, v in ours.items() if k != "queries"},
        "questions": results,
        "parquet_bytes": os.path.getsize(parquet),
    }
    print(json.dumps(report, indent=2))
    if not ok:
        print("COUNTS DIFFER between Custos and DuckDB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
