#!/usr/bin/env bash
# Site scoring: territory (Rust) vs the same scoring done the way an analyst would in
# Python (numpy + h3, vectorised), timed on identical inputs in one run.
#
# What:    `territory bench scoring` scores 10,000 candidates of NETWORK against all res-8
#          demand cells of DB (five fields each: expected_sales, cannibalised, net_gain,
#          competitor_loss, catchment_demand) and dumps its inputs and results to a temp
#          dir (cells.csv, scenario.json, rust_results.json). Then
#          tests/oracle/huff_reference.py --bench-files scores the same candidates from
#          those files (cells sorted by latitude, binary-searched band + longitude box per
#          candidate, vectorised haversine and sums), times a k=50 greedy plan from the
#          first 1,000 candidates (skipped if it would exceed 5 minutes), and compares every
#          candidate's five fields with the Rust output (relative 1e-9, absolute below 1).
# Reports: the Rust bench's own figures, the Python JSON (stdout) and progress (stderr),
#          then a summary: rust_seconds (the `score_seconds=<float>` line the Rust bench
#          prints on stdout), python_seconds (the JSON `seconds`; file reading, cell centres
#          and base-network arrays are excluded, as `setup_seconds`) and their ratio
#          python_seconds / rust_seconds. Exit 1 if any candidate mismatches.
# How:     from the repository root:
#            bench/scoring_vs_python.sh [DB] [NETWORK]     (defaults: territory.db smart)
#          KEEP=1 keeps the temp dir (its path is printed). REPEAT=N (default 3): each side
#          scores the candidates N times and reports its fastest pass. Creates .venv-oracle from
#          tests/oracle/requirements.txt if it is missing.
set -euo pipefail
DB=${1:-territory.db}
NETWORK=${2:-smart}
KEEP=${KEEP:-0}
# Each side times REPEAT passes over the candidates and reports its fastest (the VM is noisy).
REPEAT=${REPEAT:-3}
export BENCH_REPEAT=$REPEAT
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# A relative DB path is taken relative to the caller's directory.
if [[ "$DB" != /* && -e "$DB" ]]; then DB="$PWD/$DB"; fi
cd "$ROOT"

echo "== cargo build --release" >&2
cargo build --release

TMP=$(mktemp -d /tmp/scoring_vs_python.XXXXXX)
cleanup() {
  if [[ "$KEEP" == 1 ]]; then
    echo "kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

echo "== territory bench scoring (db $DB, network $NETWORK) -> $TMP" >&2
target/release/territory bench scoring --db "$DB" --network "$NETWORK" --candidates 10000 \
  --repeat "$REPEAT" --dump "$TMP" | tee "$TMP/rust_stdout.txt"
RUST_SECONDS=$(sed -n 's/^[[:space:]]*score_seconds=\([0-9.eE+-]*\)[[:space:]]*$/\1/p' \
  "$TMP/rust_stdout.txt" | tail -n 1)
if [[ -z "$RUST_SECONDS" ]]; then
  echo "error: no 'score_seconds=<float>' line in the Rust bench output" >&2
  exit 2
fi
for f in cells.csv scenario.json; do
  [[ -s "$TMP/$f" ]] || { echo "error: the Rust bench wrote no $TMP/$f" >&2; exit 2; }
done
[[ -s "$TMP/rust_results.json" ]] || echo "warning: no rust_results.json, results not compared" >&2

PY=.venv-oracle/bin/python
if [[ ! -x "$PY" ]] || ! "$PY" -c 'import h3, numpy' 2>/dev/null; then
  echo "== creating .venv-oracle" >&2
  [[ -x "$PY" ]] || python3 -m venv .venv-oracle
  .venv-oracle/bin/pip install -q -r tests/oracle/requirements.txt
fi

echo "== python (numpy + h3) on the same files" >&2
"$PY" tests/oracle/huff_reference.py --bench-files "$TMP" | tee "$TMP/python.json"

RUST_SECONDS="$RUST_SECONDS" "$PY" - "$TMP/python.json" <<'EOF'
import json, os, sys
py = json.load(open(sys.argv[1]))
rust_s = float(os.environ["RUST_SECONDS"])
py_s = float(py["seconds"])
def f(x, fmt):
    return "n/a" if x is None else format(x, fmt)
print()
print(f"cells              {py['cells']}")
print(f"candidates         {py['candidates']}")
print(f"rust_seconds       {rust_s:.4g}")
print(f"python_seconds     {py_s:.4g}   (setup, not counted: {py['setup_seconds']:.1f} s)")
print(f"ratio python/rust  {f(py_s / rust_s if rust_s > 0 else None, '.1f')}")
print(f"python_plan_seconds (k={py['plan_k']} of {py['plan_candidates']}) {f(py['plan_seconds'], '.2f')}")
print(f"max_rel_diff       {f(py['max_rel_diff'], '.3e')}")
print(f"mismatches         {f(py['mismatches'], 'd')}")
if py["mismatches"]:
    print("MISMATCH: Python and Rust disagree (see the compare lines above)", file=sys.stderr)
    sys.exit(1)
EOF
