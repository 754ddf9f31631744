#!/usr/bin/env python3
"""Seeds a running territory server for the HTTP load test (helper of http_load.sh).

What: over the HTTP API at BASE_URL, creates network `bench` (policy smart), one
`city_partner` per feature of data/cities.geojson, grants each city to its partner
by adcode (121 grants, each must answer 201), and a partner `prober` that owns
nothing. Then writes four request-body files for POST /networks/bench/grants/check,
one compact JSON body per line, into OUT_DIR:
    district_adcode.txt  {"partner_id": prober, "adcodes": [district]}    (870)
    city_adcode.txt      {"partner_id": prober, "adcodes": [city]}        (121)
    district_drawn.txt   {"partner_id": prober, "geometry": <district>}   (870)
    city_drawn.txt       {"partner_id": prober, "geometry": <city>}       (121)
The 6 district features with parent_adcode == adcode duplicate a city: skipped.
Every body conflicts with a city grant, so each check does the full overlap work.

How: python3 bench/http_load_setup.py BASE_URL OUT_DIR   (stdlib only)
"""
import json
import os, sys, urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# With BENCH_TOKEN set (http_load.sh TOKEN=1), every request carries it.
HEADERS = {"content-type": "application/json"}
if os.environ.get("BENCH_TOKEN"):
    HEADERS["authorization"] = "Bearer " + os.environ["BENCH_TOKEN"]


def post(base, path, body, want=201):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers=HEADERS)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    if status != want:
        sys.exit(f"POST {path}: {status} (wanted {want}): {text[:500]!r}")
    return json.loads(text)


def features(name):
    return json.load(open(os.path.join(ROOT, "data", name), encoding="utf-8"))["features"]


def main():
    base, out = sys.argv[1].rstrip("/"), sys.argv[2]
    cities = features("cities.geojson")
    districts = [f for f in features("districts.geojson")
                 if f["properties"]["parent_adcode"] != f["properties"]["adcode"]]
    post(base, "/networks", {"code": "bench", "name": "HTTP load bench", "policy": "smart"})
    for f in cities:
        code = f["properties"]["adcode"]
        pid = post(base, "/networks/bench/partners", {"name": f"city {code}", "tier": "city_partner"})["id"]
        post(base, "/networks/bench/grants", {"partner_id": pid, "adcodes": [code]})
    prober = post(base, "/networks/bench/partners", {"name": "prober", "tier": "city_partner"})["id"]

    os.makedirs(out, exist_ok=True)
    compact = dict(separators=(",", ":"), ensure_ascii=True)
    for kind, feats in (("district", districts), ("city", cities)):
        with open(os.path.join(out, f"{kind}_adcode.txt"), "w") as fh:
            for f in feats:
                fh.write(json.dumps({"partner_id": prober, "adcodes": [f["properties"]["adcode"]]}, **compact) + "\n")
        with open(os.path.join(out, f"{kind}_drawn.txt"), "w") as fh:
            for f in feats:
                fh.write(json.dumps({"partner_id": prober, "geometry": f["geometry"]}, **compact) + "\n")
    print(f"seeded {len(cities)} city grants; bodies: {len(districts)} districts, {len(cities)} cities -> {out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
