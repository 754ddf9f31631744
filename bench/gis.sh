#!/usr/bin/env bash
# GIS figures for BENCHMARKS.md: exports, OGC API pages and vector tiles of the sample
# data (full synthesised demand grid, 3.18 M cells) from a release build.
#   bench/gis.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-18090}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
cargo build --release --quiet
target/release/territory serve --open --db "$dir/t.db" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
base="http://127.0.0.1:$port"
until curl -sf "$base/health" >/dev/null; do sleep 0.5; done

t() { # label url [output]
    local out=${3:-/dev/null}
    curl -sf -o "$out" -w "$1 %{time_total}s %{size_download}B\n" "$2"
}
echo "# exports"
t "regions.gpkg" "$base/export/regions.gpkg"
t "smart.grants.gpkg" "$base/networks/smart/export/grants.gpkg"
t "smart.grants.geojson" "$base/networks/smart/export/grants.geojson"
t "smart.demand.geojson(all)" "$base/networks/smart/export/demand.geojson"
t "smart.demand.gpkg(all)" "$base/networks/smart/export/demand.gpkg"
t "smart.demand.gpkg(bbox 深圳)" "$base/networks/smart/export/demand.gpkg?bbox=113.7,22.4,114.7,22.9"
echo "# OGC API"
t "collections(first)" "$base/ogc/collections"
t "collections" "$base/ogc/collections"
t "regions items 1000" "$base/ogc/collections/regions/items?limit=1000"
t "demand items 1000 (bbox 深圳)" "$base/ogc/collections/smart.demand/items?limit=1000&bbox=113.7,22.4,114.7,22.9"
t "demand items 10000 offset 3M" "$base/ogc/collections/smart.demand/items?limit=10000&offset=3000000"
echo "# tiles (first render, then cached)"
for tile in regions/5/26/13 regions/8/208/111 smart.grants/6/52/27 smart.demand/4/13/6 smart.demand/6/52/27 smart.demand/10/834/444 smart.outlets/8/208/111; do
    t "$tile cold" "$base/tiles/$tile.mvt"
    t "$tile warm" "$base/tiles/$tile.mvt"
done
echo "# a z=6 map view (4x3 tiles of every layer, cold)"
start=$(date +%s.%N)
curls=()
for layer in regions smart.grants smart.demand smart.outlets smart.conflicts smart.candidates; do
    for x in 51 52 53 54; do for y in 26 27 28; do
        curl -sf -o /dev/null "$base/tiles/$layer/6/$x/$y.mvt" & curls+=($!)
    done; done
done
wait "${curls[@]}"
echo "z6 view 72 tiles $(echo "$(date +%s.%N) - $start" | bc)s"
