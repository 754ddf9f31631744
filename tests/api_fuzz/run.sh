#!/usr/bin/env bash
# Property-tests the running HTTP API with Schemathesis, driven by its own /openapi.json.
#
#   tests/api_fuzz/run.sh [BINARY]        (default /work/main/target/debug/territory)
#
# Builds nothing: give it a built `territory` binary. It starts
# `territory serve --listen 127.0.0.1:0 --db <fresh temp file> --no-seed-demand`, waits
# for /health, and runs every operation of /openapi.json (GET, POST, PUT, PATCH; valid
# and schema-violating inputs; examples, coverage, fuzzing and stateful phases) with two
# checks: no 5xx (`not_a_server_error`) and every 4xx an application/problem+json body
# with type, title, status and detail (`problem_json_on_4xx`, hooks.py).
#
# Bounds (environment): API_FUZZ_MAX_EXAMPLES (50 per operation and phase),
# API_FUZZ_MAX_TIME (210 s for the Schemathesis run), API_FUZZ_WORKERS (1: with 2 worker
# threads, CPython 3.11's ast module now and then raises "AST constructor recursion depth
# mismatch" inside Hypothesis, cpython#106905, which fails the run with no server fault),
# API_FUZZ_SEED (random; printed, so a run can be repeated), API_FUZZ_CHECKS (a comma list
# replacing the two checks, e.g. `all,problem_json_on_4xx` to explore), API_FUZZ_VENV (the venv,
# default tests/api_fuzz/.venv, git-ignored), API_FUZZ_KEEP=1 keeps the temp dir with
# the database, server log and reports.
#
# Exits non-zero on any failed check, on a server that dies or panics, or on a setup error.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-/work/main/target/debug/territory}"
max_examples="${API_FUZZ_MAX_EXAMPLES:-50}"
max_time="${API_FUZZ_MAX_TIME:-210}"
workers="${API_FUZZ_WORKERS:-1}"
seed="${API_FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
venv="${API_FUZZ_VENV:-$here/.venv}"

if [ ! -x "$bin" ]; then
    echo "error: no territory binary at $bin (build it: cargo build)" >&2
    exit 2
fi

# --- Schemathesis, pinned, in its own venv -----------------------------------------------
want="$(sed -n 's/^schemathesis==//p' "$here/requirements.txt")"
if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $want"; then
    echo "== installing schemathesis $want into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
"$venv/bin/st" --version

# --- the service on a throwaway database ---------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/territory-api-fuzz.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${API_FUZZ_KEEP:-0}" = 1 ]; then
        echo "kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# With an access token the service runs as in production (every route authorised); a
# binary without `token` runs open on loopback (a binary with it is given a token).
auth=()
if "$bin" token create --help >/dev/null 2>&1; then
    token="$("$bin" token create --db "$work/api-fuzz.db" --name api-fuzz --role admin 2>/dev/null | tail -n 1)"
    auth=(-H "Authorization: Bearer $token")
    echo "== admin token created (export TOKEN=$token to replay the curl commands below)"
fi

RUST_LOG="${RUST_LOG:-warn}" "$bin" serve --listen 127.0.0.1:0 --db "$work/api-fuzz.db" --no-seed-demand \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

base=""
for _ in $(seq 1 600); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: the server exited during start-up:" >&2
        cat "$work/server.err" >&2
        exit 1
    fi
    base="$(sed -n '1s|^listening on ||p' "$work/server.out")"
    [ -n "$base" ] && break
    sleep 0.1
done
if [ -z "$base" ]; then
    echo "error: the server printed no 'listening on' line within 60 s" >&2
    exit 1
fi
for _ in $(seq 1 300); do
    curl -fsS "${auth[@]}" "$base/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "${auth[@]}" "$base/health" >/dev/null
echo "== server $bin (pid $server_pid) at $base, db $work/api-fuzz.db"

# --- the run --------------------------------------------------------------------------------
echo "== schemathesis: max $max_examples examples per operation, ${max_time}s budget, $workers workers, seed $seed"
start=$(date +%s)
set +e
(
    cd "$work"   # Schemathesis keeps a cache dir where it runs
    PYTHONPATH="$here" SCHEMATHESIS_HOOKS=hooks "$venv/bin/st" --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
        --url "$base" \
        "${auth[@]}" \
        --workers "$workers" \
        --max-examples "$max_examples" \
        --max-time "$max_time" \
        ${API_FUZZ_CHECKS:+--checks "$API_FUZZ_CHECKS"} \
        --seed "$seed" \
        --request-timeout 60 \
        --generation-database none \
        --suppress-health-check all \
        --report ndjson,junit \
        --report-dir "$work/reports" \
        --no-color
) 2>&1 | tee "$work/schemathesis.log"
st_rc=${PIPESTATUS[0]}
set -e
end=$(date +%s)

server_alive=1
kill -0 "$server_pid" 2>/dev/null || server_alive=0
set +e
"$venv/bin/python" "$here/summary.py" --reports "$work/reports" --server-log "$work/server.err" \
    --base "$base" --seconds $((end - start)) --seed "$seed" --server-alive "$server_alive"
sum_rc=$?
set -e

if [ "$st_rc" -ne 0 ] || [ "$sum_rc" -ne 0 ]; then
    echo "FAILED (schemathesis exit $st_rc, summary exit $sum_rc); rerun with API_FUZZ_SEED=$seed API_FUZZ_KEEP=1 to keep the reports"
    exit 1
fi
echo "OK"
