#!/usr/bin/env bash
# The forensic-index benchmark with its DuckDB baseline, in one script:
# builds custos (release), installs DuckDB from PyPI into a venv, runs both
# over the same rows and checks the counts are identical.
#   bench/scope.sh [ROWS]      (default 1000000000: 34M subjects, 1B subject-accesses)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000000}"
WORK="${SCOPE_BENCH_DIR:-/var/tmp/custos-scope-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/custos-release}"
cargo build --release -q -p custos
mkdir -p "$WORK"
if [ ! -x "$WORK/venv/bin/python" ]; then
  python3 -m venv "$WORK/venv"
fi
"$WORK/venv/bin/python" -m pip install --quiet -r bench/requirements.txt
"$WORK/venv/bin/python" bench/scope_duckdb.py --custos "$CARGO_TARGET_DIR/release/custos" \
  --rows "$ROWS" --work "$WORK" | tee "$WORK/scope-$ROWS.json"
