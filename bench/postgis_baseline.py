#!/usr/bin/env python3
"""PostGIS baseline for the territory exclusivity check (helper of postgis_baseline.sh).

What: loads the 121 city polygons of data/cities.geojson as stored grants into an
already-running PostgreSQL+PostGIS server, then times the check query

    SELECT id FROM grants WHERE geom && $1 AND ST_Relate(geom, $1, 'T********')

as a server-side prepared statement, $1 sent as binary EWKB (SRID 4326) typed as
geometry, for two query sets (876 districts, 121 cities) with 1 and 2 concurrent
clients (separate processes, one connection each, pulling the next query from a
shared counter). Each configuration runs the same work: P whole passes over the
query set, P sized so that it takes ~DURATION s at 1 client, after WARMUP s of
untimed checks per connection. checks/s = P * n / wall time; latency is per check, client side
(send + execute + fetch of the ids).

Also does one correctness pass per query set (rows matched in total; for
districts, how many do not match their own parent city; for cities, how many do
not match themselves) and a round-trip floor (prepared SELECT 1, 1 client).

Run it through postgis_baseline.sh, which installs, starts and removes the server:
    python3 postgis_baseline.py --host SOCKET_DIR --port PORT [--duration 10] [--warmup 1]
Prints a markdown table on stdout and writes the figures as JSON (--out).
"""
import argparse, json, multiprocessing as mp, os, re, struct, time

import psycopg
from psycopg import pq

SQL = b"SELECT id FROM grants WHERE geom && $1 AND ST_Relate(geom, $1, 'T********')"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ewkb(geom, srid=4326):
    """GeoJSON MultiPolygon -> little-endian EWKB with SRID (what geometry_recv reads)."""
    assert geom["type"] == "MultiPolygon"
    out = [struct.pack("<BIII", 1, 6 | 0x20000000, srid, len(geom["coordinates"]))]
    for poly in geom["coordinates"]:
        out.append(struct.pack("<BII", 1, 3, len(poly)))
        for ring in poly:
            flat = [c for pt in ring for c in pt[:2]]
            out.append(struct.pack(f"<I{len(flat)}d", len(ring), *flat))
    return b"".join(out)


def load(name):
    feats = json.load(open(os.path.join(ROOT, "data", name)))["features"]
    for f in feats:
        f["wkb"] = ewkb(f["geometry"])
        f["nverts"] = sum(len(r) for p in f["geometry"]["coordinates"] for r in p)
    return feats


def connect(a):
    return psycopg.connect(host=a.host, port=a.port, user="postgres", dbname="postgres", autocommit=True)


def prepared_check(conn):
    """Prepare the check on this connection; return check(wkb) -> list of grant ids."""
    oid = conn.execute("SELECT 'geometry'::regtype::oid").fetchone()[0]
    pg = conn.pgconn
    r = pg.prepare(b"check", SQL, [oid])
    if r.status != pq.ExecStatus.COMMAND_OK:
        raise RuntimeError(r.error_message.decode())

    def check(wkb):
        r = pg.exec_prepared(b"check", [wkb], [1], 1)  # binary param, binary result
        if r.status != pq.ExecStatus.TUPLES_OK:
            raise RuntimeError(r.error_message.decode())
        return [int.from_bytes(r.get_value(i, 0), "big") for i in range(r.ntuples)]

    return check


def worker(a, wkbs, total, idx, nclients, counter, barrier, q):
    with connect(a) as conn:
        check = prepared_check(conn)
        barrier.wait()
        t_end, i = time.perf_counter() + a.warmup, idx * len(wkbs) // nclients
        while time.perf_counter() < t_end:  # warm this backend up, untimed
            check(wkbs[i % len(wkbs)])
            i += 1
        barrier.wait()
        lat, start = [], time.perf_counter()
        while True:
            with counter.get_lock():  # shared work queue: next query of the passes
                k = counter.value
                counter.value += 1
            if k >= total:
                break
            t0 = time.perf_counter()
            check(wkbs[k % len(wkbs)])
            lat.append(time.perf_counter() - t0)
        end = time.perf_counter()
        plans = conn.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                             " WHERE name = 'check'").fetchone()
        q.put((start, end, lat, plans))


def run_config(a, wkbs, passes, nclients):
    """passes x all queries, pulled from a shared counter by nclients processes;
    wall = first start to last end."""
    ctx = mp.get_context("fork")
    counter, barrier, q = ctx.Value("l", 0), ctx.Barrier(nclients), ctx.Queue()
    total = passes * len(wkbs)
    procs = [ctx.Process(target=worker, args=(a, wkbs, total, k, nclients, counter, barrier, q))
             for k in range(nclients)]
    for p in procs:
        p.start()
    res = [q.get() for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"worker exited with {p.exitcode}")
    wall = max(r[1] for r in res) - min(r[0] for r in res)
    lat = sorted(x for r in res for x in r[2])
    pct = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))] * 1e3, 3)
    return {"clients": nclients, "passes": passes, "checks": len(lat), "wall_s": round(wall, 3),
            "checks_per_s": round(len(lat) / wall, 1), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "generic_custom_plans": [r[3] for r in res]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=5432)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "postgis_baseline.json"))
    a = ap.parse_args()

    cities, districts = load("cities.geojson"), load("districts.geojson")
    with connect(a) as conn:  # load the grants
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("DROP TABLE IF EXISTS grants")
        conn.execute("CREATE TABLE grants(id serial PRIMARY KEY, adcode text, geom geometry(MultiPolygon,4326))")
        with conn.cursor() as cur, cur.copy("COPY grants(adcode, geom) FROM STDIN") as cp:
            for f in cities:  # text COPY of a geometry column takes hex (E)WKB
                cp.write_row((f["properties"]["adcode"], f["wkb"].hex()))
        conn.execute("CREATE INDEX grants_geom ON grants USING gist(geom)")
        conn.execute("ANALYZE grants")
        adcode = dict(conn.execute("SELECT id, adcode FROM grants").fetchall())
        versions = conn.execute("SELECT current_setting('server_version'), postgis_lib_version(),"
                                " postgis_geos_version()").fetchone()
        plan = [re.sub(r"'[0-9A-F]+'::geometry", "$1", r[0]) for r in conn.execute(
            "EXPLAIN " + SQL.decode().replace("$1", "%(g)s::geometry"), {"g": districts[0]["wkb"]})]
        check = prepared_check(conn)
        # correctness pass (also a first warm-up of the whole data)
        correct = {}
        for name, feats, own in (("districts", districts, "parent_adcode"), ("cities", cities, "adcode")):
            t0, rows, missing = time.perf_counter(), 0, 0
            for f in feats:
                ids = check(f["wkb"])
                rows += len(ids)
                missing += f["properties"][own] not in {adcode[i] for i in ids}
            correct[name] = {"rows_matched_per_pass": rows, "missing_own_city": missing,
                             "pass_s": round(time.perf_counter() - t0, 3)}
        # round-trip floor: prepared SELECT 1 through the same client path, 1 s
        r = conn.pgconn.prepare(b"one", b"SELECT 1", [])
        n, t_end = 0, time.perf_counter() + 1.0
        while time.perf_counter() < t_end:
            conn.pgconn.exec_prepared(b"one", [], [], 1)
            n += 1
        floor_ms = round(1e3 / n, 4)

    results = {"postgres": versions[0], "postgis": versions[1], "geos": versions[2],
               "cpus": os.cpu_count(), "query": SQL.decode(), "plan": plan,
               "grants": len(cities), "roundtrip_floor_ms_mean": floor_ms,
               "install_s": float(os.environ.get("INSTALL_S", "nan")),
               "server_settings": os.environ.get("PG_SETTINGS", ""), "sets": {}}
    for name, feats in (("districts", districts), ("cities", cities)):
        wkbs = [f["wkb"] for f in feats]
        passes = max(1, round(a.duration / correct[name]["pass_s"]))  # same work for 1 and 2 clients
        results["sets"][name] = {
            "queries": len(feats), "avg_vertices": round(sum(f["nverts"] for f in feats) / len(feats), 1),
            **correct[name], "runs": [run_config(a, wkbs, passes, c) for c in (1, 2)]}

    with open(a.out, "w") as fh:
        json.dump(results, fh, indent=2, ensure_ascii=False)
    print(f"PostGIS baseline: PostgreSQL {versions[0]}, PostGIS {versions[1]}, GEOS {versions[2]}, "
          f"{len(cities)} grants, whole passes (~{a.duration:g} s at 1 client) after {a.warmup:g} s warm-up\n")
    print("| query set | n | avg vertices | rows/pass | missing own city | clients | passes | checks/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, s in results["sets"].items():
        for r in s["runs"]:
            print(f"| {name} | {s['queries']} | {s['avg_vertices']} | {s['rows_matched_per_pass']} | "
                  f"{s['missing_own_city']} | {r['clients']} | {r['passes']} | {r['checks_per_s']} | {r['p50_ms']} | {r['p99_ms']} |")
    print(f"\nround-trip floor (prepared SELECT 1): {floor_ms} ms; JSON: {a.out}")


if __name__ == "__main__":
    main()
