#!/usr/bin/env bash
# PostGIS baseline for the territory exclusivity check.
#
# What:    times PostgreSQL/PostGIS answering our check on the same polygons:
#            SELECT id FROM grants WHERE geom && $1 AND ST_Relate(geom, $1, 'T********')
#          grants = the 121 cities of data/cities.geojson (GiST index, ANALYZEd);
#          queries = the 876 districts, then the 121 cities; prepared statement,
#          $1 as binary EWKB; 1 and 2 concurrent clients (one process and one
#          connection each); whole passes sized to ~DURATION s at 1 client,
#          after WARMUP s of untimed warm-up per connection.
# Reports: checks/s, p50/p99 latency (ms, client side), average vertex count of
#          the query polygons, rows matched per pass (each district should match
#          its own city), round-trip floor. Markdown on stdout, JSON in
#          bench/postgis_baseline.json.
# How:     (as root)  bash bench/postgis_baseline.sh      (DURATION=10 WARMUP=1)
#          Installs postgresql, postgresql-15-postgis-3 and python3-psycopg from
#          Debian if missing, runs a throwaway cluster in a temp dir (unix socket
#          only, fsync/jit off) and stops and deletes it on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3   # Debian's python, where python3-psycopg installs
DURATION=${DURATION:-10} WARMUP=${WARMUP:-1}

t0=$(date +%s)
need=()
[ -x "$PGBIN/initdb" ] || need+=(postgresql)
dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
"$PY" -c 'import psycopg' 2>/dev/null || need+=(python3-psycopg)
if ((${#need[@]})); then
  echo "installing: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
export INSTALL_S=$(($(date +%s) - t0))
echo "install step: ${INSTALL_S}s" >&2

TMP=$(mktemp -d /tmp/postgis_baseline.XXXXXX)
chown postgres: "$TMP"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export PG_SETTINGS="listen_addresses='' fsync=off synchronous_commit=off full_page_writes=off jit=off"
as_pg "$PGBIN/initdb" -D "$TMP/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
opts="-k $TMP -p 5432"; for s in $PG_SETTINGS; do opts+=" -c $s"; done
as_pg "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w -o "$opts" start >/dev/null

"$PY" "$HERE/postgis_baseline.py" --host "$TMP" --port 5432 \
  --duration "$DURATION" --warmup "$WARMUP" --out "$HERE/postgis_baseline.json"
