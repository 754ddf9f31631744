"""Build tests/fixtures/scoring/jiujiang_scenario.json: a small real scoring scenario.

Jiujiang, Jiangxi (九江), city centre taken as lon 115.99, lat 29.71.
  cells      all H3 res-8 cells whose centre lies within 30 km (haversine) of the centre:
             h3.grid_disk(centre cell, 45) filtered by distance (the k = 45 ring lies wholly
             beyond 30 km, asserted), sorted by cell id.
  demand     D = round(6 * exp(-d_km / 8) + 0.05, 3) units/year, d_km = centre point -> cell centre;
             a population-like decay, no randomness (~3,640 units/year in all). The scale is
             chosen so that format min_sales checks go both ways (meets true and false,
             recommendations elite / elite_lite / below_standard); with 40*exp(..)+0.5
             every open candidate would simply be recommended flagship.
  outlets    3 own (elite auto_city, city_showroom mall, function street) and 2 competitors
             (mall without format -> default showroom, auto_city flagship), all within 20 km.
  candidates 8, mixing given/omitted site_type and format; c6_nanchang lies > 50 km from
             every cell (empty catchment: all zeros); c7_near_centre is ~0.22 km from a cell
             centre (d_min applies); c8 uses quick_service (showroom null -> default 300).
  plan       k = 3, min_gain = 0.
Coordinates are rounded to 6 decimals and demands to 3, so both sides parse them exactly.
Parameters, formats and tier formats are the docs/scoring.md defaults (huff_reference.py).

Regenerate (from the repository root):
    .venv-oracle/bin/python tests/oracle/make_huff_scenario.py
    .venv-oracle/bin/python tests/oracle/huff_reference.py \
        tests/fixtures/scoring/jiujiang_scenario.json > tests/fixtures/scoring/jiujiang_expected.json
"""
import json
import math
import sys
from pathlib import Path

import h3
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from huff_reference import (DEFAULT_FORMATS, DEFAULT_PARAMS, DEFAULT_TIER_FORMATS,  # noqa: E402
                            haversine_km)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/scoring/jiujiang_scenario.json"
CENTRE = (29.71, 115.99)  # lat, lon
RES = 8
RADIUS_KM = 30.0
K = 45
R_EARTH = DEFAULT_PARAMS["earth_radius_km"]


def dist_km(lat1, lon1, lat2, lon2):
    return float(haversine_km(math.radians(lat1), math.radians(lon1), math.radians(lat2),
                              math.radians(lon2), R_EARTH))


def build_cells():
    c0 = h3.latlng_to_cell(CENTRE[0], CENTRE[1], RES)
    # The outermost ring must lie wholly outside the radius, so the disk is not truncating.
    assert min(dist_km(*CENTRE, *h3.cell_to_latlng(c)) for c in h3.grid_ring(c0, K)) > RADIUS_KM
    cells = []
    for c in sorted(h3.grid_disk(c0, K)):
        d = dist_km(*CENTRE, *h3.cell_to_latlng(c))
        if d <= RADIUS_KM:
            cells.append([c, round(6.0 * math.exp(-d / 8.0) + 0.05, 3)])
    return cells


def r6(x):
    return round(x, 6)


def main():
    cells = build_cells()
    centres = np.array([h3.cell_to_latlng(c) for c, _ in cells])

    def min_cell_dist(lat, lon):
        return float(np.min(haversine_km(np.radians(centres[:, 0]), np.radians(centres[:, 1]),
                                         math.radians(lat), math.radians(lon), R_EARTH)))

    outlets = [
        # own network (sales roles only)
        {"id": "own_elite_autocity", "lon": 115.905, "lat": 29.655, "site_type": "auto_city",
         "format": "elite", "own": True},
        {"id": "own_cityshowroom_mall", "lon": 115.985, "lat": 29.714, "site_type": "mall",
         "format": "city_showroom", "own": True},
        {"id": "own_function_street", "lon": 116.028, "lat": 29.683, "site_type": "street",
         "format": "function", "own": True},
        # competitors
        {"id": "comp_mall", "lon": 116.003, "lat": 29.702, "site_type": "mall", "own": False},
        {"id": "comp_autocity", "lon": 115.935, "lat": 29.638, "site_type": "auto_city",
         "format": "flagship", "own": False},
    ]
    for o in outlets:
        assert dist_km(*CENTRE, o["lat"], o["lon"]) < 20.0, o["id"]

    # c7: ~0.22 km north of the centre of the cell holding (29.700, 115.970).
    nc_lat, nc_lon = h3.cell_to_latlng(h3.latlng_to_cell(29.700, 115.970, RES))
    candidates = [
        {"id": "c1_lushan_autocity", "lon": 116.050, "lat": 29.580, "site_type": "auto_city", "format": "elite"},
        {"id": "c2_balihu_open", "lon": 115.950, "lat": 29.690},
        {"id": "c3_binjiang_mall", "lon": 116.030, "lat": 29.730, "site_type": "mall"},
        {"id": "c4_ruichang_road_street", "lon": 115.800, "lat": 29.680, "site_type": "street", "format": "function"},
        {"id": "c5_east_flagship_open", "lon": 116.100, "lat": 29.640, "format": "flagship"},
        {"id": "c6_nanchang", "lon": 115.890, "lat": 28.680},
        {"id": "c7_near_centre", "lon": r6(nc_lon), "lat": r6(nc_lat + 0.002), "site_type": "auto_city"},
        {"id": "c8_shili_quick_service", "lon": 116.080, "lat": 29.700, "site_type": "street",
         "format": "quick_service"},
    ]
    far = min_cell_dist(candidates[5]["lat"], candidates[5]["lon"])
    assert far > 50.0, far
    near = min_cell_dist(candidates[6]["lat"], candidates[6]["lon"])
    assert 0.0 < near < 1.0, near
    for c in candidates:
        if c["id"] != "c6_nanchang":
            assert dist_km(*CENTRE, c["lat"], c["lon"]) < 25.0, c["id"]

    scenario = {
        "description": "Jiujiang (Jiangxi) res-8 demand within 30 km of lon 115.99 lat 29.71; "
                       "D = round(6*exp(-d_km/8)+0.05, 3). Built by tests/oracle/make_huff_scenario.py.",
        "params": DEFAULT_PARAMS,
        "formats": DEFAULT_FORMATS,
        "tier_formats": DEFAULT_TIER_FORMATS,
        "cells": cells,
        "outlets": outlets,
        "candidates": candidates,
        "plan": {"k": 3, "min_gain": 0.0},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One cell / outlet / candidate per line (readable diffs), the rest indented.
    text = json.dumps({k: ("@" + k if k in ("cells", "outlets", "candidates") else v)
                       for k, v in scenario.items()}, indent=1, ensure_ascii=False)
    for key in ("cells", "outlets", "candidates"):
        rows = ",\n  ".join(json.dumps(r, ensure_ascii=False) for r in scenario[key])
        text = text.replace(json.dumps("@" + key), "[\n  " + rows + "\n ]")
    assert json.loads(text) == scenario
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"{OUT.relative_to(ROOT)}: {len(cells)} cells, demand {sum(d for _, d in cells):.3f}, "
          f"c6 min cell distance {far:.1f} km, c7 min cell distance {near:.3f} km", file=sys.stderr)


if __name__ == "__main__":
    main()
