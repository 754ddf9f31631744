#!/usr/bin/env bash
# HTTP load test of the territory exclusivity check, driven by wrk.
#
# What:     throughput and latency of POST /networks/bench/grants/check (dry run)
#           against a release build on loopback, with 121 city grants stored
#           (one per feature of data/cities.geojson). Four request sets, each
#           cycled by wrk (every body conflicts with one stored city):
#             district_adcode / city_adcode: {"adcodes": [code]} (server looks up the region)
#             district_drawn  / city_drawn:  {"geometry": <GeoJSON MultiPolygon>} (parse + overlap)
#           each at (a) 1 thread/1 connection, (b) 2/2, (c) 2/8, for DURATION s
#           after WARMUP s untimed (once per set). wrk is the load generator
#           because it is lean: it shares the machine's 2 cores with the server.
# Reports:  markdown table on stdout: req/s, and latency p50/p99 (ms) as wrk
#           measures it (send to last byte of the response, per request).
#           Any non-200 answer or socket error/timeout aborts the run (exit 1).
# How:      (as root) bash bench/http_load.sh          (DURATION=10 WARMUP=1)
#           BIN=path/to/territory serves that binary instead (no build), to
#           compare two builds run after run; SETS="city_adcode district_drawn"
#           runs only those request sets. TOKEN=1 creates an admin token before
#           the server starts, so every request is authenticated (token lookups).
#           Installs wrk from Debian if missing, runs `cargo build --release`
#           (retried after a minute if it fails, e.g. on a half-edited file),
#           serves a copy of the binary with a temp DB on a free 127.0.0.1 port,
#           seeds it with bench/http_load_setup.py, and on exit stops the server
#           (SIGTERM, then SIGKILL after 10 s) and deletes the temp dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
DURATION=${DURATION:-10} WARMUP=${WARMUP:-1}
SETS=${SETS:-district_adcode city_adcode district_drawn city_drawn}

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cd "$ROOT"
for try in 1 2 3; do
  [ -n "${BIN:-}" ] && break
  timeout 1200 cargo build --release -q && break
  [ "$try" = 3 ] && { echo "build failed 3 times" >&2; exit 1; }
  echo "build failed (try $try); retrying in 60 s" >&2; sleep 60
done

TMP=$(mktemp -d /tmp/http_load.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && { echo "server ignored SIGTERM; killing" >&2; kill -KILL "$PID"; }
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "${BIN:-target/release/territory}" "$TMP/territory"   # immune to rebuilds during the run
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
OPEN=${OPEN---open}   # without tokens (loopback), unless TOKEN=1; OPEN= for builds before `serve --open`
if [ "${TOKEN:-0}" = 1 ]; then
  BENCH_TOKEN=$("$TMP/territory" token create --db "$TMP/bench.db" --name bench --role admin 2>/dev/null)
  export BENCH_TOKEN
  OPEN=
fi
"$TMP/territory" serve $OPEN --db "$TMP/bench.db" --listen "127.0.0.1:$PORT" >"$TMP/server.out" 2>"$TMP/server.err" &
PID=$!
for _ in $(seq 600); do   # up to 60 s for the first import
  grep -q '^listening on ' "$TMP/server.out" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$TMP/server.err" >&2; echo "server died" >&2; exit 1; }
  sleep 0.1
done
grep -q '^listening on ' "$TMP/server.out" || { echo "server did not start in 60 s" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
echo "server pid $PID on $URL" >&2

timeout 600 python3 "$HERE/http_load_setup.py" "$URL" "$TMP/bodies"

echo "| scenario | threads | connections | req/s | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|---:|---:|"
for set in $SETS; do
  body="$TMP/bodies/$set.txt"
  if [ "$WARMUP" != 0 ]; then
    timeout $((WARMUP + 30)) wrk -t1 -c1 -d"${WARMUP}s" --timeout 10s -s "$HERE/http_load.lua" "$URL" -- "$body" >/dev/null
  fi
  for tc in 1/1 2/2 2/8; do
    t=${tc%/*} c=${tc#*/}
    out=$(timeout $((DURATION + 30)) wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 10s \
          -s "$HERE/http_load.lua" "$URL" -- "$body") || { echo "$out" >&2; echo "wrk failed: $set $tc" >&2; exit 1; }
    line=$(grep '^RESULT ' <<<"$out")
    val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    printf '| %s | %s | %s | %.0f | %.2f | %.2f |\n' "$set" "$t" "$c" "$(val rps)" "$(val p50_ms)" "$(val p99_ms)"
  done
done
