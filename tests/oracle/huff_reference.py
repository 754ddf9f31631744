"""Independent Python reference (oracle) for territory's site-scoring model (SCORING.md).

Usage (from the repository root, with the oracle venv; see "Setup" below):
    .venv-oracle/bin/python tests/oracle/huff_reference.py SCENARIO.json > RESULT.json
    .venv-oracle/bin/python tests/oracle/huff_reference.py --selftest
    .venv-oracle/bin/python tests/oracle/huff_reference.py --bench-synthetic [--candidates N]

The fixture pair tests/fixtures/scoring/jiujiang_{scenario,expected}.json is produced by
    .venv-oracle/bin/python tests/oracle/make_huff_scenario.py
    .venv-oracle/bin/python tests/oracle/huff_reference.py \
        tests/fixtures/scoring/jiujiang_scenario.json > tests/fixtures/scoring/jiujiang_expected.json

Setup:
    python3 -m venv .venv-oracle
    .venv-oracle/bin/pip install -r tests/oracle/requirements.txt     # h3 4.5.0, numpy 2.4.6

The model (implemented exactly as written in SCORING.md; float64 throughout)
----------------------------------------------------------------------------
Demand cells: H3 cells of one resolution, demand D_i (units/year); a cell's position is
h3.cell_to_latlng(cell) (its centre). Sales outlets k: the network's own active outlets
whose role sells cars plus competitor outlets (the scenario lists only those).
    A_j  = showroom_m2(format_j) * m(site_type_j)   (no format / showroom null: default_showroom_m2)
    d_ij = haversine km, R = earth_radius_km:
           d = 2 R asin(sqrt(sin^2(dphi/2) + cos phi1 cos phi2 sin^2(dlambda/2)))
    U_ij = A_j * max(d_ij, d_min)^(-beta(st_j))   if d_ij <= R(st_j) (inclusive), else 0
    P_ij = U_ij / (U0 + sum_k U_ik)
    S_j  = conv(st_j) * sum_i D_i P_ij
Candidate c against the current sales set B (B+c: c added as an own outlet):
    expected_sales   = S_c under B+c
    cannibalised     = sum over OWN j of S_j(B) - S_j(B+c)
    net_gain         = expected_sales - cannibalised
    competitor_loss  = same sum over competitor outlets
    catchment_demand = sum of D_i over cells with U_ic > 0
Every candidate of a batch is scored against B alone.

Decisions for what the spec leaves open (as briefed):
 1. Candidate with `format`: A_c uses that format's showroom (default 300 if its showroom is
    null); meets_market_size = expected_sales >= min_sales (null if min_sales is null).
    recommended_format and format_trials are null for such a candidate.
 2. Candidate without `format`: base scoring uses default_showroom_m2. Recommendation: the
    scenario's tier_formats with min_sales not null, sorted by min_sales descending (stable),
    each scored with its own A_c = showroom_m2(format) * m; recommend the first whose own
    S_c >= min_sales, else "below_standard". format_trials lists {format, expected_sales,
    min_sales, meets} in the order tried, stopping after the first that meets.
    meets_market_size is null for such a candidate.
 3. Candidate without `site_type`: scored as "mall" and as "auto_city" separately (each a full
    record incl. its own recommendation) under by_site_type; best_site_type = larger net_gain,
    tie -> "mall"; the top-level fields copy the best one. With site_type given, by_site_type
    is null and best_site_type is the given one.
 4. Greedy plan: repeatedly add the candidate with the largest net_gain against the current
    set (given site_type, or its best_site_type against the current set at that step; given
    format or the default showroom); ties -> earliest in the input list. The chosen one joins
    the set as an own sales outlet. Stops when k are chosen ("k_reached") or when the best
    gain is < min_gain or no candidate is left ("no_gain"). Each step reports the gain and
    the network total (sum of S_j over own outlets) after the step.

Numerical conventions of this oracle (the Rust side need not copy them; compare with a
relative tolerance of ~1e-9):
  * the per-cell denominator is U0 + T_i, where T_i = sum of U_ik accumulated in outlet order
    (outlets as listed, then greedy additions), and with a candidate U0 + (T_i + U_ic) -- so a
    candidate that reaches no cell leaves every S_j bit-identical (cannibalised == 0.0);
  * sums over cells and over outlets use math.fsum (correctly rounded), so cannibalised and
    competitor_loss are exactly >= 0.

Hand check (--selftest): one cell with D = 100, one mall outlet 2 km away with showroom 300:
    A = 300 * 1.3 = 390, U = 390 * 2^-2.2, P = U / (4/3 + U), S = 0.7 * 100 * P  (= 68.917397589851...).
"""
import json
import math
import sys
import time

import h3
import numpy as np

DEFAULT_PARAMS = {
    "d_min_km": 1.0,
    "u0": 4.0 / 3.0,
    "earth_radius_km": 6371.0088,
    "default_showroom_m2": 300,
    "site_types": {
        "mall": {"visibility": 1.3, "beta": 2.2, "reach_km": 25, "conversion": 0.7},
        "auto_city": {"visibility": 1.0, "beta": 1.6, "reach_km": 50, "conversion": 1.0},
        "street": {"visibility": 0.8, "beta": 2.0, "reach_km": 30, "conversion": 0.85},
    },
}

DEFAULT_FORMATS = {
    "flagship": {"showroom_m2": 450, "min_sales": 1200},
    "elite": {"showroom_m2": 375, "min_sales": 600},
    "elite_lite": {"showroom_m2": 300, "min_sales": 200},
    "function": {"showroom_m2": 300, "min_sales": 200},
    "city_showroom": {"showroom_m2": 300, "min_sales": 600},
    "quick_service": {"showroom_m2": None, "min_sales": None},
}

DEFAULT_TIER_FORMATS = ["flagship", "elite", "elite_lite", "function", "city_showroom"]

# Site types tried for a candidate without one (decision 3), in tie-break order.
OPEN_SITE_TYPES = ("mall", "auto_city")


# --------------------------------------------------------------------------- geometry

def haversine_km(lat1, lon1, lat2, lon2, radius_km):
    """Great-circle distance in km; all angles in radians (numpy arrays or floats)."""
    s_dphi = np.sin((lat2 - lat1) / 2.0)
    s_dlam = np.sin((lon2 - lon1) / 2.0)
    a = s_dphi * s_dphi + np.cos(lat1) * np.cos(lat2) * (s_dlam * s_dlam)
    return 2.0 * radius_km * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


# --------------------------------------------------------------------------- model

class Model:
    """Cells + parameters of one scenario; computes utilities and outlet sales."""

    def __init__(self, scenario):
        p = scenario["params"]
        self.d_min = float(p["d_min_km"])
        self.u0 = float(p["u0"])
        self.radius = float(p["earth_radius_km"])
        self.default_showroom = float(p["default_showroom_m2"])
        self.site_types = p["site_types"]
        self.formats = scenario.get("formats", {})
        self.tier_formats = scenario.get("tier_formats", [])

        cells = scenario["cells"]
        ids = [c[0] for c in cells]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate cell id")
        res = set()
        lat = np.empty(len(cells))
        lon = np.empty(len(cells))
        for i, cid in enumerate(ids):
            if not h3.is_valid_cell(cid):
                raise ValueError(f"invalid H3 cell {cid!r}")
            res.add(h3.get_resolution(cid))
            la, lo = h3.cell_to_latlng(cid)
            lat[i], lon[i] = la, lo
        if len(res) > 1:
            raise ValueError(f"cells of several resolutions: {sorted(res)}")
        self.cell_ids = ids
        self.lat = np.radians(lat)
        self.lon = np.radians(lon)
        self.demand = np.array([float(c[1]) for c in cells], dtype=np.float64)

    # -- attributes
    def showroom(self, fmt):
        if fmt is None:
            return self.default_showroom
        if fmt not in self.formats:
            raise ValueError(f"unknown format {fmt!r}")
        s = self.formats[fmt]["showroom_m2"]
        return self.default_showroom if s is None else float(s)

    def attractiveness(self, fmt, site_type):
        return self.showroom(fmt) * float(self.site_types[site_type]["visibility"])

    def conversion(self, site_type):
        return float(self.site_types[site_type]["conversion"])

    def utility(self, lat_deg, lon_deg, a, site_type):
        """U_i for every cell of an outlet of attractiveness a at (lat, lon) in degrees."""
        st = self.site_types[site_type]
        d = haversine_km(self.lat, self.lon, math.radians(lat_deg), math.radians(lon_deg), self.radius)
        u = a * np.power(np.maximum(d, self.d_min), -float(st["beta"]))
        return np.where(d <= float(st["reach_km"]), u, 0.0)


class SalesSet:
    """A set of sales outlets with their utility columns and the running sum T_i."""

    def __init__(self, model):
        self.model = model
        self.outlets = []  # dicts: id, own, conv, u
        self.total_u = np.zeros_like(model.demand)

    def add(self, oid, lat, lon, fmt, site_type, own):
        m = self.model
        if site_type not in m.site_types:
            raise ValueError(f"unknown site_type {site_type!r} for {oid}")
        u = m.utility(lat, lon, m.attractiveness(fmt, site_type), site_type)
        self.outlets.append({"id": oid, "own": bool(own), "conv": m.conversion(site_type), "u": u})
        self.total_u = self.total_u + u

    def sales(self, extra_u=None):
        """S_j of every outlet (list), with an optional extra utility column in the denominator."""
        m = self.model
        t = self.total_u if extra_u is None else self.total_u + extra_u
        denom = m.u0 + t
        return [o["conv"] * math.fsum(m.demand * o["u"] / denom) for o in self.outlets]

    def network_total(self, sales=None):
        sales = self.sales() if sales is None else sales
        return math.fsum(s for s, o in zip(sales, self.outlets) if o["own"])


def score_core(sset, base_sales, lat, lon, fmt, site_type):
    """The base fields of a candidate (fmt None -> default showroom) against sset."""
    m = sset.model
    u_c = m.utility(lat, lon, m.attractiveness(fmt, site_type), site_type)
    after = sset.sales(extra_u=u_c)
    denom = m.u0 + (sset.total_u + u_c)
    expected = m.conversion(site_type) * math.fsum(m.demand * u_c / denom)
    cann = math.fsum(b - a for b, a, o in zip(base_sales, after, sset.outlets) if o["own"])
    comp = math.fsum(b - a for b, a, o in zip(base_sales, after, sset.outlets) if not o["own"])
    return {
        "site_type": site_type,
        "expected_sales": expected,
        "cannibalised": cann,
        "net_gain": expected - cann,
        "competitor_loss": comp,
        "catchment_demand": math.fsum(m.demand[u_c > 0.0]),
    }


def score_site_type(sset, base_sales, cand, site_type):
    """Full record of a candidate for one site type (decisions 1 and 2)."""
    m = sset.model
    fmt = cand.get("format")
    rec = score_core(sset, base_sales, cand["lat"], cand["lon"], fmt, site_type)
    if fmt is not None:
        min_sales = m.formats[fmt]["min_sales"] if fmt in m.formats else None
        rec["meets_market_size"] = None if min_sales is None else bool(rec["expected_sales"] >= min_sales)
        rec["recommended_format"] = None
        rec["format_trials"] = None
        return rec
    rec["meets_market_size"] = None
    tiers = [f for f in m.tier_formats if m.formats[f]["min_sales"] is not None]
    tiers = sorted(tiers, key=lambda f: -float(m.formats[f]["min_sales"]))  # stable
    trials = []
    recommended = "below_standard"
    for f in tiers:
        s = score_core(sset, base_sales, cand["lat"], cand["lon"], f, site_type)["expected_sales"]
        ms = m.formats[f]["min_sales"]
        meets = bool(s >= ms)
        trials.append({"format": f, "expected_sales": s, "min_sales": ms, "meets": meets})
        if meets:
            recommended = f
            break
    rec["recommended_format"] = recommended
    rec["format_trials"] = trials
    return rec


def score_candidate(sset, base_sales, cand):
    """Candidate record with by_site_type / best_site_type (decision 3)."""
    st = cand.get("site_type")
    if st is not None:
        rec = score_site_type(sset, base_sales, cand, st)
        rec["by_site_type"] = None
        rec["best_site_type"] = st
        return rec
    by = {t: score_site_type(sset, base_sales, cand, t) for t in OPEN_SITE_TYPES}
    best = OPEN_SITE_TYPES[0]
    for t in OPEN_SITE_TYPES[1:]:
        if by[t]["net_gain"] > by[best]["net_gain"]:
            best = t
    rec = dict(by[best])
    rec["by_site_type"] = by
    rec["best_site_type"] = best
    return rec


def plan_greedy(model, scenario):
    """Decision 4: greedy choice of up to k candidates."""
    sset = build_set(model, scenario)
    plan = scenario.get("plan") or {"k": 0, "min_gain": 0.0}
    k, min_gain = int(plan["k"]), float(plan["min_gain"])
    remaining = list(scenario["candidates"])
    steps = []
    stopped = "k_reached"
    while len(steps) < k:
        if not remaining:
            stopped = "no_gain"
            break
        base = sset.sales()
        best = None  # (gain, cand, site_type)
        for cand in remaining:
            sts = [cand["site_type"]] if cand.get("site_type") is not None else list(OPEN_SITE_TYPES)
            g_best, st_best = None, None
            for st in sts:
                g = score_core(sset, base, cand["lat"], cand["lon"], cand.get("format"), st)["net_gain"]
                if g_best is None or g > g_best:
                    g_best, st_best = g, st
            if best is None or g_best > best[0]:
                best = (g_best, cand, st_best)
        gain, cand, st = best
        if not gain >= min_gain:
            stopped = "no_gain"
            break
        sset.add(cand["id"], cand["lat"], cand["lon"], cand.get("format"), st, own=True)
        remaining = [c for c in remaining if c is not cand]
        steps.append({"step": len(steps) + 1, "candidate": cand["id"], "site_type": st,
                      "gain": gain, "network_total": sset.network_total()})
    return {"steps": steps, "stopped": stopped}


def build_set(model, scenario):
    sset = SalesSet(model)
    for o in scenario["outlets"]:
        sset.add(o["id"], o["lat"], o["lon"], o.get("format"), o["site_type"], own=o["own"])
    return sset


def run_scenario(scenario):
    model = Model(scenario)
    ids = [c["id"] for c in scenario["candidates"]] + [o["id"] for o in scenario["outlets"]]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate outlet/candidate id")
    sset = build_set(model, scenario)
    base = sset.sales()
    return {
        "outlets": [{"id": o["id"], "expected_sales": s} for o, s in zip(sset.outlets, base)],
        "network_total": sset.network_total(base),
        "candidates": [{"id": c["id"], **score_candidate(sset, base, c)} for c in scenario["candidates"]],
        "plan": plan_greedy(model, scenario),
    }


def check_result(scenario, result):
    """Invariants every result must satisfy; raises AssertionError."""
    model = Model(scenario)
    sset = build_set(model, scenario)
    share = sset.total_u / (model.u0 + sset.total_u)  # sum_j P_ij per cell
    assert np.all(share < 1.0) and np.all(share >= 0.0)
    total_d = math.fsum(model.demand)
    for c in result["candidates"]:
        recs = list(c["by_site_type"].values()) if c["by_site_type"] else [c]
        for r in recs:
            assert r["cannibalised"] >= 0.0 and r["competitor_loss"] >= 0.0, c["id"]
            assert 0.0 <= r["expected_sales"] <= r["catchment_demand"] <= total_d, c["id"]
            assert math.isclose(r["net_gain"], r["expected_sales"] - r["cannibalised"], rel_tol=0, abs_tol=1e-9)
            if r["catchment_demand"] == 0.0:
                assert r["expected_sales"] == r["cannibalised"] == r["competitor_loss"] == 0.0, c["id"]
    prev = result["network_total"]
    for s in result["plan"]["steps"]:
        assert math.isclose(s["gain"], s["network_total"] - prev, rel_tol=1e-9, abs_tol=1e-7), s
        prev = s["network_total"]


# --------------------------------------------------------------------------- selftest

def selftest():
    p = DEFAULT_PARAMS
    cell = h3.latlng_to_cell(29.71, 115.99, 8)
    clat, clon = h3.cell_to_latlng(cell)
    olat = clat + math.degrees(2.0 / p["earth_radius_km"])  # 2 km due north of the centre
    sc = {"params": p, "formats": DEFAULT_FORMATS, "tier_formats": DEFAULT_TIER_FORMATS,
          "cells": [[cell, 100.0]],
          "outlets": [{"id": "o", "lat": olat, "lon": clon, "site_type": "mall", "format": "function", "own": True}],
          "candidates": [
              {"id": "same_place", "lat": olat, "lon": clon, "site_type": "mall"},
              {"id": "far", "lat": clat + 1.0, "lon": clon},
              {"id": "on_centre", "lat": clat, "lon": clon, "site_type": "street", "format": "quick_service"}],
          "plan": {"k": 3, "min_gain": 0.0}}
    res = run_scenario(sc)
    u = 390.0 * 2.0 ** -2.2
    s_hand = 0.7 * 100.0 * (u / (4.0 / 3.0 + u))
    s = res["outlets"][0]["expected_sales"]
    assert math.isclose(s, s_hand, rel_tol=1e-12), (s, s_hand)
    # Twin outlet at the same place: both get 0.7*100*U/(4/3+2U).
    twin = 0.7 * 100.0 * (u / (4.0 / 3.0 + 2 * u))
    c = res["candidates"][0]
    assert math.isclose(c["expected_sales"], twin, rel_tol=1e-12)
    assert math.isclose(c["cannibalised"], s_hand - twin, rel_tol=1e-9)
    assert c["recommended_format"] == "below_standard" and len(c["format_trials"]) == 5
    # Far candidate: reaches no cell; everything zero, both site types tried.
    f = res["candidates"][1]
    assert f["catchment_demand"] == f["expected_sales"] == f["cannibalised"] == f["net_gain"] == 0.0
    assert f["best_site_type"] == "mall" and set(f["by_site_type"]) == {"mall", "auto_city"}
    # Candidate on the cell centre: d = 0 -> max(d, d_min) = 1 km; quick_service -> 300 m2.
    o = res["candidates"][2]
    u_c = 300 * 0.8 * 1.0
    assert math.isclose(o["expected_sales"], 0.85 * 100 * u_c / (4.0 / 3.0 + u + u_c), rel_tol=1e-12)
    assert o["meets_market_size"] is None and o["format_trials"] is None
    check_result(sc, res)
    selftest_fast_kernel()
    print("selftest ok: S =", repr(s), "hand =", repr(s_hand))


# --------------------------------------------------------------------------- fast kernel / bench

class FastScorer:
    """Vectorised analyst-style scorer for many candidates over many cells.

    Cells are sorted by latitude once; an outlet or candidate selects the latitude band of its
    reach by binary search, then a longitude box, then the exact haversine. The existing set
    is folded into per-cell arrays T (sum U), W_own / W_comp (sum conv_j U_ij over own /
    competitor outlets), so a candidate costs O(cells in reach):
        S_c  = conv_c sum D U_c / (U0 + T + U_c)
        cann = sum D W_own (1/(U0+T) - 1/(U0+T+U_c))   (comp likewise with W_comp)
    which is algebraically the reference's S_j(B) - S_j(B+c) summed over j.
    """

    def __init__(self, lat_deg, lon_deg, demand, params):
        order = np.argsort(lat_deg, kind="stable")
        self.lat_deg = lat_deg[order]
        self.lon_deg = lon_deg[order]
        self.lat = np.radians(self.lat_deg)
        self.lon = np.radians(self.lon_deg)
        self.demand = demand[order]
        self.p = params
        self.radius = float(params["earth_radius_km"])
        self.u0 = float(params["u0"])
        self.d_min = float(params["d_min_km"])
        n = len(order)
        self.t = np.zeros(n)
        self.w_own = np.zeros(n)
        self.w_comp = np.zeros(n)

    def reach_idx(self, lat, lon, reach):
        dlat = math.degrees(reach / self.radius) * 1.0001 + 1e-9
        i0, i1 = np.searchsorted(self.lat_deg, [lat - dlat, lat + dlat], side="left")
        cmax = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
        dlon = dlat / cmax * 1.0001
        lon_band = self.lon_deg[i0:i1]
        idx = np.nonzero(np.abs(lon_band - lon) <= dlon)[0] + i0
        d = haversine_km(self.lat[idx], self.lon[idx], math.radians(lat), math.radians(lon), self.radius)
        keep = d <= reach
        return idx[keep], d[keep]

    def utility(self, lat, lon, a, st):
        s = self.p["site_types"][st]
        idx, d = self.reach_idx(lat, lon, float(s["reach_km"]))
        return idx, a * np.power(np.maximum(d, self.d_min), -float(s["beta"]))

    def add_outlet(self, lat, lon, a, st, own):
        idx, u = self.utility(lat, lon, a, st)
        self.t[idx] += u
        w = self.w_own if own else self.w_comp
        w[idx] += float(self.p["site_types"][st]["conversion"]) * u

    def score(self, lat, lon, a, st):
        idx, u = self.utility(lat, lon, a, st)
        dem = self.demand[idx]
        t = self.t[idx]
        den0 = self.u0 + t
        den1 = self.u0 + (t + u)
        diff = 1.0 / den0 - 1.0 / den1
        exp_s = float(self.p["site_types"][st]["conversion"]) * float(np.sum(dem * u / den1))
        cann = float(np.sum(dem * self.w_own[idx] * diff))
        comp = float(np.sum(dem * self.w_comp[idx] * diff))
        return {"expected_sales": exp_s, "cannibalised": cann, "net_gain": exp_s - cann,
                "competitor_loss": comp, "catchment_demand": float(np.sum(dem))}


def selftest_fast_kernel():
    """The fast kernel agrees with the reference on a small random scenario."""
    rng = np.random.default_rng(7)
    center = h3.latlng_to_cell(29.71, 115.99, 7)
    cells = sorted(h3.grid_disk(center, 12))
    dem = np.round(rng.uniform(0, 50, len(cells)), 3)
    def pt():
        return float(29.71 + rng.uniform(-0.5, 0.5)), float(115.99 + rng.uniform(-0.5, 0.5))
    outlets = []
    for i in range(12):
        la, lo = pt()
        outlets.append({"id": f"o{i}", "lat": la, "lon": lo, "site_type": ["mall", "auto_city", "street"][i % 3],
                        "format": ["elite", None, "flagship", "quick_service"][i % 4], "own": i % 2 == 0})
    cands = []
    for i in range(15):
        la, lo = pt()
        cands.append({"id": f"c{i}", "lat": la, "lon": lo, "site_type": ["mall", "auto_city", "street"][i % 3]})
    sc = {"params": DEFAULT_PARAMS, "formats": DEFAULT_FORMATS, "tier_formats": DEFAULT_TIER_FORMATS,
          "cells": [[c, float(d)] for c, d in zip(cells, dem)], "outlets": outlets, "candidates": cands,
          "plan": {"k": 2, "min_gain": 0.0}}
    res = run_scenario(sc)
    check_result(sc, res)
    model = Model(sc)
    fs = FastScorer(np.degrees(model.lat), np.degrees(model.lon), model.demand, DEFAULT_PARAMS)
    for o in outlets:
        fs.add_outlet(o["lat"], o["lon"], model.attractiveness(o["format"], o["site_type"]), o["site_type"], o["own"])
    for c, r in zip(cands, res["candidates"]):
        f = fs.score(c["lat"], c["lon"], model.attractiveness(None, c["site_type"]), c["site_type"])
        for key in ("expected_sales", "cannibalised", "net_gain", "competitor_loss", "catchment_demand"):
            assert math.isclose(f[key], r[key], rel_tol=1e-9, abs_tol=1e-9), (c["id"], key, f[key], r[key])


BENCH_BOX = (106.0, 118.0, 21.0, 31.5)  # lon_min, lon_max, lat_min, lat_max: ~2.0 M res-8 cells


def bench_synthetic(n_cand=10_000, n_outlets=200, box=BENCH_BOX, res=8):
    """~2 M res-8 cells over southern China, 200 outlets, n_cand random candidates."""
    import h3.api.basic_int as h3i

    t0 = time.perf_counter()
    lo0, lo1, la0, la1 = box
    cells = h3i.polygon_to_cells(h3.LatLngPoly([(la0, lo0), (la0, lo1), (la1, lo1), (la1, lo0)]), res)
    cells.sort()
    ll = np.array([h3i.cell_to_latlng(c) for c in cells], dtype=np.float64)
    rng = np.random.default_rng(1)
    demand = rng.uniform(0.0, 20.0, len(cells))
    fs = FastScorer(ll[:, 0], ll[:, 1], demand, DEFAULT_PARAMS)
    showroom = {"flagship": 450.0, "elite": 375.0, "function": 300.0, "city_showroom": 300.0}
    sts = ["mall", "auto_city", "street"]
    for i in range(n_outlets):
        la, lo = rng.uniform(la0, la1), rng.uniform(lo0, lo1)
        st = sts[int(rng.integers(3))]
        a = showroom[list(showroom)[int(rng.integers(4))]] * DEFAULT_PARAMS["site_types"][st]["visibility"]
        fs.add_outlet(la, lo, a, st, own=bool(i % 4 == 0))  # 50 own, 150 competitors
    cand = [(rng.uniform(la0, la1), rng.uniform(lo0, lo1), sts[int(rng.integers(3))]) for _ in range(n_cand)]
    t1 = time.perf_counter()
    total_gain = 0.0
    for la, lo, st in cand:
        a = 300.0 * DEFAULT_PARAMS["site_types"][st]["visibility"]
        total_gain += fs.score(la, lo, a, st)["net_gain"]
    t2 = time.perf_counter()
    secs = t2 - t1
    print(f"cells={len(cells)} candidates={n_cand} seconds={secs:.2f} "
          f"setup_seconds={t1 - t0:.2f} per_candidate_ms={1000 * secs / n_cand:.3f} "
          f"extrapolated_10000_seconds={secs / n_cand * 10000:.1f} sum_net_gain={total_gain:.6f}")


def main(argv):
    if len(argv) >= 1 and argv[0] == "--selftest":
        selftest()
        return 0
    if len(argv) >= 1 and argv[0] == "--bench-synthetic":
        n = 10_000
        if len(argv) >= 3 and argv[1] == "--candidates":
            n = int(argv[2])
        bench_synthetic(n_cand=n)
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as f:
        scenario = json.load(f)
    result = run_scenario(scenario)
    check_result(scenario, result)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
