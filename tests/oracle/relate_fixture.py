"""Generate tests/fixtures/relate_cases.json: a shapely/GEOS oracle for territory conflicts.

Each case is a pair of valid (Multi)Polygons a, b in lon/lat (WGS84) with what shapely
judged for them: the DE-9IM matrix a.relate(b), whether interiors intersect (pattern
T********), and geodesic areas in km^2 (pyproj Geod WGS84) of a, b and a∩b.

Coordinates are rounded to 7 decimals and rings oriented (exterior CCW, holes CW) BEFORE
anything is computed, so the fixture holds exactly the geometry shapely judged.

Case groups:
  hand/*      hand-made edge cases (each also swapped as */swapped)
  neighbour/* neighbouring districts from data/districts.geojson (shared borders)
  parent/*    a district vs its parent city (data/cities.geojson); the city is split into
              (district, city - district), coverage-simplified and re-joined by union
  cities/*    neighbouring cities
  shifted/*   a district translated by 1e-4..1e-2 deg against a neighbour
  random/*    seeded random convex and star polygons on a 0.001 deg grid (see random_cases)
Real polygons with > MAX_VERTS vertices are simplified with shapely.coverage_simplify on
both members together (so shared borders stay shared); the interiors_intersect answer of
the simplified pair is asserted equal to that of the raw pair.

Pinned: shapely 2.1.2 (GEOS 3.13.1), pyproj 3.7.2 (PROJ 9.5.1), numpy 2.4.6.
Regenerate (from the repository root):
    python3 -m venv .venv-oracle
    .venv-oracle/bin/pip install -r tests/oracle/requirements.txt
    .venv-oracle/bin/python tests/oracle/relate_fixture.py
"""
import json
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/relate_cases.json"
GEOD = Geod(ellps="WGS84")
MAX_VERTS = 400
SEED = 20240601


def prep(g):
    """Round to 7 decimals, orient rings, and insist on validity."""
    g = shapely.transform(g, lambda c: np.array([[round(float(v), 7) for v in p] for p in c]).reshape(-1, 2))
    g = shapely.orient_polygons(g)
    assert g.geom_type in ("Polygon", "MultiPolygon") and shapely.is_valid(g), shapely.is_valid_reason(g)
    return g


def km2(g):
    """Geodesic area of the polygonal part of g in km^2 (0.0 if none)."""
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    return sum(abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(p))[0]) for p in parts) / 1e6


def case(name, a, b):
    a, b = prep(a), prep(b)
    inter = a.intersection(b)
    return {"name": name, "a": mapping(a), "b": mapping(b), "relate": a.relate(b),
            "interiors_intersect": bool(shapely.relate_pattern(a, b, "T********")),
            "overlap_km2": km2(inter) if not inter.is_empty else 0.0,
            "area_a_km2": km2(a), "area_b_km2": km2(b)}


def sq(x, y, w, h=None):
    """Axis-aligned rectangle in units of U deg, offset from the origin (X0, Y0)."""
    X0, Y0, U = 114.0, 22.5, 0.01
    return box(X0 + x * U, Y0 + y * U, X0 + (x + w) * U, Y0 + (y + (w if h is None else h)) * U)


def poly(pts, *holes):
    f = lambda ring: [(114.0 + x * 0.01, 22.5 + y * 0.01) for x, y in ring]
    return Polygon(f(pts), [f(h) for h in holes])


def hand_cases():
    outer = [(0, 0), (10, 0), (10, 10), (0, 10)]
    hole = [(3, 3), (7, 3), (7, 7), (3, 7)]
    donut = poly(outer, hole)
    L = poly([(0, 0), (4, 0), (4, 1), (1, 1), (1, 4), (0, 4)])
    pairs = {
        "disjoint": (sq(0, 0, 1), sq(3, 3, 1)),
        "bbox_overlap_disjoint_L_square": (L, sq(2, 2, 1)),
        "bbox_overlap_disjoint_two_L": (L, poly([(4, 4), (4, 1.5), (3, 1.5), (3, 3), (1.5, 3), (1.5, 4)])),
        "touch_full_edge": (sq(0, 0, 1), sq(1, 0, 1)),
        "touch_partial_collinear_edge": (sq(0, 0, 1), sq(1, 0.5, 1)),
        "touch_edge_extra_collinear_vertices": (sq(0, 0, 2), poly([(2, 0), (4, 0), (4, 2), (2, 2), (2, 1.5), (2, 0.7)])),
        "touch_corner_point": (sq(0, 0, 1), sq(1, 1, 1)),
        "overlap_small": (sq(0, 0, 1), sq(0.9, 0.9, 1)),
        "overlap_half": (sq(0, 0, 2), sq(1, 0, 2)),
        "containment_a_in_b": (sq(1, 1, 1), sq(0, 0, 3)),
        "containment_b_in_a": (sq(0, 0, 3), sq(1, 1, 1)),
        "containment_a_in_b_sharing_edge": (sq(0, 0, 1), sq(0, 0, 3)),
        "identical": (sq(0, 0, 2), sq(0, 0, 2)),
        "inside_hole": (sq(4, 4, 2), donut),
        "inside_hole_touching_hole_corner": (sq(5, 5, 2), donut),
        "fills_hole_exactly": (poly(hole), donut),
        "overlaps_hole_edge": (sq(2, 4, 2), donut),
        "covers_hole_and_ring": (sq(2, 2, 6), donut),
        "sliver_1e-5": (sq(0, 0, 1), box(114.01 - 1e-5, 22.5, 114.03, 22.51)),
        "sliver_1e-6": (sq(0, 0, 1), box(114.01 - 1e-6, 22.5, 114.03, 22.51)),
        "sliver_1e-7": (sq(0, 0, 1), box(114.01 - 1e-7, 22.5, 114.03, 22.51)),
        "near_touch_gap_1e-7": (sq(0, 0, 1), box(114.01 + 1e-7, 22.5, 114.03, 22.51)),
        "near_touch_gap_1e-6": (sq(0, 0, 1), box(114.01 + 1e-6, 22.5, 114.03, 22.51)),
        "needle_vertex_on_edge": (poly([(1, 0.5), (3, 0), (3, 1)]), sq(0, 0, 1)),
        "needle_vertex_near_diagonal_edge_inexact": (poly([(1, 1), (3, 0.5), (3, 1.5)]), poly([(0, 0), (2, 2), (0, 2)])),
        # dyadic offsets: the vertex is exactly on the diagonal edge in binary floating point
        "needle_vertex_on_diagonal_edge_exact": (
            Polygon([(114.015625, 22.515625), (114.05, 22.5), (114.05, 22.52)]),
            Polygon([(114.0, 22.5), (114.03125, 22.53125), (114.0, 22.53125)])),
        "needle_vertex_overshoot_1e-7": (Polygon([(114.01 - 1e-7, 22.505), (114.03, 22.5), (114.03, 22.51)]), sq(0, 0, 1)),
        "multi_one_touch_one_overlap": (MultiPolygon([sq(0, 0, 1), sq(2.5, 0, 1)]), sq(1, 0, 2)),
        "multi_all_parts_touch": (MultiPolygon([sq(0, 0, 1), sq(2, 0, 1), sq(1, 1, 1)]), sq(1, 0, 1)),
        "multi_vs_multi_touch": (MultiPolygon([sq(0, 0, 1), sq(2, 2, 1)]), MultiPolygon([sq(1, 0, 1), sq(2, 1, 1)])),
        "cross_plus_shape": (sq(0, 1, 3, 1), sq(1, 0, 1, 3)),
        "star_of_david": (poly([(0, 0), (4, 0), (2, 3.4641)]), poly([(0, 2.3094), (2, -1.1547), (4, 2.3094)])),
        "comb_teeth_touch_edge": (poly([(0, 1), (1, 0), (2, 1), (3, 0), (4, 1), (4, 2), (0, 2)]), sq(0, -1, 4, 1)),
        "comb_teeth_overlap_edge": (poly([(0, 1), (1, -0.1), (2, 1), (3, -0.1), (4, 1), (4, 2), (0, 2)]), sq(0, -1, 4, 1)),
    }
    for name, (a, b) in pairs.items():
        yield f"hand/{name}", a, b
        yield f"hand/{name}/swapped", b, a


def load(path):
    feats = json.loads((ROOT / path).read_text(encoding="utf-8"))["features"]
    return [(f["properties"], shape(f["geometry"])) for f in feats]


def nverts(g):
    return int(shapely.get_num_coordinates(g))


def shrink(a, b):
    """Coverage-simplify the touching pair (a, b) until both have <= MAX_VERTS vertices."""
    for tol in (0, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2):
        sa, sb = (a, b) if tol == 0 else shapely.coverage_simplify([a, b], tol)
        if max(nverts(sa), nverts(sb)) <= MAX_VERTS:
            return sa, sb
    raise AssertionError("cannot simplify pair")


def neighbours(items, limit):
    """Touching pairs among items with <= limit vertices, in adcode order."""
    geoms = [g for _, g in items]
    tree = shapely.STRtree(geoms)
    out = []
    for i, g in enumerate(geoms):
        if nverts(g) <= limit:
            out += [(i, int(j)) for j in tree.query(g, predicate="intersects") if j > i and nverts(geoms[j]) <= limit]
    return out


def spread(seq, n):
    """n items evenly spaced over seq (deterministic)."""
    return [seq[int(k * len(seq) / n)] for k in range(n)] if len(seq) > n else list(seq)


def real_cases():
    dist, cities = load("data/districts.geojson"), load("data/cities.geojson")
    city = {p["adcode"]: g for p, g in cities}
    tag = lambda p: p["adcode"]
    nb = neighbours(dist, 300)
    picked = spread(nb, 30)
    for i, j in picked:
        (pa, a), (pb, b) = dist[i], dist[j]
        yield f"neighbour/{tag(pa)}-{tag(pb)}", a, b, (a, b)
    seen = set()
    small = [(p, g) for p, g in dist if nverts(g) <= 200 and p["parent_adcode"] in city]
    for p, d in small:
        if p["parent_adcode"] in seen or len(seen) == 20:
            continue
        seen.add(p["parent_adcode"])
        c = city[p["parent_adcode"]]
        # rest = city minus district; coverage-simplify (district, rest) and re-join the city
        sd, rest = shrink(d, c.difference(d))
        yield f"parent/{tag(p)}-{p['parent_adcode']}", sd, shapely.union_all([sd, rest]), (d, c)
    for i, j in spread(neighbours(cities, 10**9), 10):
        (pa, a), (pb, b) = cities[i], cities[j]
        yield f"cities/{tag(pa)}-{tag(pb)}", *shrink(a, b), (a, b)
    rest = [pair for pair in nb if pair not in picked]
    for k, (i, j) in enumerate(spread(rest, 20)):
        (pa, a), (pb, b) = dist[i], dist[j]
        # push a towards the middle of the shared border, by 1e-4 .. 1e-2 deg
        mag, mid = 10 ** (-4 + 2 * k / 19), shapely.centroid(a.intersection(b))
        ang = np.arctan2(mid.y - a.centroid.y, mid.x - a.centroid.x)
        dx, dy = round(mag * np.cos(ang), 6), round(mag * np.sin(ang), 6)
        yield f"shifted/{tag(pa)}+({dx},{dy})-{tag(pb)}", affinity.translate(a, dx, dy), b, None


def grid_poly(rng, kind):
    """Random valid polygon in 0.001 deg grid units: 'convex' hull of points or 'star'."""
    while True:
        if kind == "convex":
            g = shapely.convex_hull(shapely.multipoints(rng.integers(0, 12, size=(int(rng.integers(3, 9)), 2))))
        else:
            n = int(rng.integers(5, 11))
            ang, r = np.sort(rng.uniform(0, 2 * np.pi, n)), rng.uniform(2, 7, n)
            pts = np.round(np.c_[6 + r * np.cos(ang), 6 + r * np.sin(ang)])
            g = Polygon(pts) if len(np.unique(pts, axis=0)) >= 3 else Polygon()
        if g.geom_type == "Polygon" and g.is_valid and g.area > 0:
            return shapely.orient_polygons(g)


def random_cases(n=60):
    """Pairs (a, b) in grid units: b independent, a translated/rotated/mirrored, or a
    triangle on an edge of a (touch for convex a). Mapped to degrees near (113.5, 23.0)."""
    rng = np.random.default_rng(SEED)
    modes = ("independent", "translated", "rotated", "mirrored", "edge_triangle")
    for k in range(n):
        a, mode = grid_poly(rng, ("convex", "star")[k % 2]), modes[k % 5]
        if mode == "independent":
            b = affinity.translate(grid_poly(rng, ("convex", "star")[(k // 2) % 2]), int(rng.integers(-4, 5)))
        elif mode == "translated":
            b = affinity.translate(a, *rng.integers(-8, 9, 2))
        elif mode == "rotated":
            b = affinity.rotate(a, 90 * int(rng.integers(1, 4)), origin=(6, 6))
        elif mode == "mirrored":  # reflect about x = max x, then maybe slide along y
            b = affinity.affine_transform(a, [-1, 0, 0, 1, 2 * a.bounds[2], int(rng.choice([0, 0, 1, -2]))])
        else:
            ring = np.asarray(a.exterior.coords)
            i = int(rng.integers(len(ring) - 1))
            p, q = ring[i], ring[i + 1]
            b = Polygon([p, q, p + int(rng.integers(1, 3)) * np.array([q[1] - p[1], p[0] - q[0]])])
        a, b = (affinity.affine_transform(g, [0.001, 0, 0, 0.001, 113.5, 23.0]) for g in (a, b))
        yield f"random/{k:02d}-{mode}", a, b


def main():
    cases = [case(*c) for c in hand_cases()]
    for name, a, b, raw in real_cases():
        c = case(name, a, b)
        if raw is not None:  # simplification must not change the conflict answer
            assert c["interiors_intersect"] == shapely.relate_pattern(*raw, "T********"), name
        cases.append(c)
    cases += [case(*c) for c in random_cases()]
    assert len({c["name"] for c in cases}) == len(cases)
    doc = {"generator": "tests/oracle/relate_fixture.py", "shapely": shapely.__version__,
           "geos": shapely.geos_version_string, "cases": cases}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    t = sum(c["interiors_intersect"] for c in cases)
    touch = sum(not c["interiors_intersect"] and c["relate"][:2] + c["relate"][3:5] != "FFFF" for c in cases)
    print(f"{OUT.relative_to(ROOT)}: {len(cases)} cases, {OUT.stat().st_size} bytes")
    print(f"interiors_intersect true={t} false={len(cases) - t} (touch-only={touch}, disjoint={len(cases) - t - touch})")
    for grp in sorted({c["name"].split("/")[0] for c in cases}):
        cs = [c for c in cases if c["name"].startswith(grp + "/")]
        print(f"  {grp:10s} {len(cs):4d} cases, {sum(c['interiors_intersect'] for c in cs):4d} interiors_intersect")


if __name__ == "__main__":
    main()
