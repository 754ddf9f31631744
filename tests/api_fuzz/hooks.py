"""Schemathesis hooks for tests/api_fuzz/run.sh (loaded through SCHEMATHESIS_HOOKS=hooks).

Registers the custom check `problem_json_on_4xx`: every 4xx answer must be an RFC 9457
problem, i.e. `Content-Type: application/problem+json` and a JSON object body with
`type` (non-empty string), `title` (non-empty string), `status` (integer equal to the
HTTP status) and `detail` (non-empty string). HEAD answers carry no body and are skipped.
"""

from __future__ import annotations

import json

import schemathesis

REQUIRED = ("type", "title", "status", "detail")


def _problems(status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with a 4xx answer, as sentences (empty when it is a valid problem)."""
    media = content_type.split(";", 1)[0].strip().lower()
    wrong: list[str] = []
    if media != "application/problem+json":
        wrong.append(f"Content-Type is {content_type or '(none)'!r}, not application/problem+json")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        snippet = body[:200].decode("utf-8", "replace")
        wrong.append(f"the body is not JSON: {snippet!r}")
        return wrong
    if not isinstance(doc, dict):
        wrong.append(f"the body is JSON but not an object: {str(doc)[:200]}")
        return wrong
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        wrong.append(f"members missing: {', '.join(missing)} (body: {json.dumps(doc)[:300]})")
    for key in ("type", "title", "detail"):
        if key in doc and not (isinstance(doc[key], str) and doc[key].strip()):
            wrong.append(f"`{key}` is not a non-empty string: {doc[key]!r}")
    if "status" in doc and (type(doc["status"]) is not int or doc["status"] != status):
        wrong.append(f"`status` is {doc['status']!r}, but the HTTP status is {status}")
    return wrong


@schemathesis.check
def problem_json_on_4xx(ctx, response, case):
    """Every 4xx is application/problem+json with type, title, status and detail."""
    if not 400 <= response.status_code < 500:
        return None
    if (case.method or "").upper() == "HEAD":
        return None
    content_type = ", ".join(response.headers.get("content-type", []))
    wrong = _problems(response.status_code, content_type, response.content)
    if wrong:
        raise AssertionError(f"{response.status_code} is not a problem+json answer: " + "; ".join(wrong))
    return None


# --- Bodies that reach the service's real work ----------------------------------------------
#
# The spec types geometries and points as bare objects, so generated bodies almost never get
# past input validation. For the mutating routes that take geometry, points, candidates or a
# demand grid, half the generated bodies are replaced by ones built here: plausible (sample
# partners, real res-8 H3 cells near Jiujiang, Shenzhen and Wuhan, places in China) with
# hostile numbers mixed in (range edges, huge, tiny, negative, NaN-like text).

import re
import zlib

from hypothesis import strategies as st

CELLS = (
    "88419d4809fffff 88419d480dfffff 88419d4841fffff 88419d4843fffff 88419d4845fffff 88419d4847fffff "
    "88419d4849fffff 88419d484bfffff 88419d484dfffff 88419d4855fffff 88419d485dfffff 88419d4869fffff "
    "88419d486bfffff 88419d4a23fffff 88419d4a27fffff 88419d4a35fffff 88419d4a37fffff 88419d4b13fffff "
    "88419d4b1bfffff 88411caa01fffff 88411caa03fffff 88411caa05fffff 88411caa07fffff 88411caa09fffff "
    "88411caa0bfffff 88411caa0dfffff 88411caa15fffff 88411caa1dfffff 88411caa29fffff 88411caa2bfffff "
    "8840a68001fffff 8840a68003fffff 8840a68005fffff 8840a68007fffff 8840a68009fffff 8840a6800bfffff"
).split()
OTHER_CELLS = ["87419d484ffffff", "89419d4841bffff", "8841aa2ec9ffff", "not-a-cell", "", "0"]
PLACES = [(115.99, 29.71), (114.05, 22.54), (114.3, 30.6), (113.26, 23.13), (112.94, 28.23), (104.07, 30.67), (101.78, 36.62)]
PARTNERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, -1, 999999]
SITE_TYPES = ["mall", "auto_city", "street", "", "MALL", "airport"]
FORMATS = ["light_showroom", "flagship", "elite", "elite_lite", "function", "city_showroom", "quick_service", "nope"]
ROLES = ["sales_service", "sales_touchpoint", "service_only", "x"]
ADCODES = ["360400", "360402", "440300", "420100", "510100", "630100", "360000", "999999", "", "1"]
DATES = ["2025-01-01", "2026-06-30", "2030-12-31", "1970-01-01", "2026-02-30", "9999-12-31", "today", ""]
EDGE = [0.0, -0.0, 180.0, -180.0, 90.0, -90.0, 180.0000001, 1e-300, 5e-324, 1e300, 1.7976931348623157e308]

lon = st.one_of(st.floats(73, 135), st.sampled_from(EDGE), st.floats(allow_nan=False, allow_infinity=False))
lat = st.one_of(st.floats(18, 53), st.sampled_from(EDGE), st.floats(allow_nan=False, allow_infinity=False))
near = st.sampled_from(PLACES).flatmap(
    lambda p: st.tuples(st.floats(p[0] - 0.5, p[0] + 0.5), st.floats(p[1] - 0.5, p[1] + 0.5))
)
position = st.one_of(near.map(list), st.tuples(lon, lat).map(list), st.tuples(lon, lat, st.floats(-10, 10)).map(list))
point = st.one_of(
    position.map(lambda c: {"type": "Point", "coordinates": c}),
    st.fixed_dictionaries({"type": st.sampled_from(["Point", "point", "Polygon"]), "coordinates": st.lists(lon, max_size=4)}),
)


def _box(c, w, h):
    x, y = c
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]


size = st.one_of(st.floats(1e-6, 2.0), st.sampled_from([0.0, 1e-300, 1e-12, 10.0, 400.0, -0.5]))
box_ring = st.builds(_box, near, size, size)
random_ring = st.lists(position, min_size=0, max_size=8).map(lambda r: r + r[:1] if r and len(r) % 2 else r)
ring = st.one_of(box_ring, box_ring, random_ring)
polygon = st.lists(ring, min_size=1, max_size=3)
geometry = st.one_of(
    polygon.map(lambda p: {"type": "Polygon", "coordinates": p}),
    st.lists(polygon, min_size=1, max_size=3).map(lambda m: {"type": "MultiPolygon", "coordinates": m}),
    st.fixed_dictionaries({"type": st.sampled_from(["Polygon", "MultiPolygon", "LineString", "Feature"]), "coordinates": st.just([])}),
)


def _opt(strategy):
    return st.one_of(st.none(), strategy)


grant_body = st.one_of(
    st.fixed_dictionaries(
        {"partner_id": st.sampled_from(PARTNERS), "geometry": geometry},
        optional={"exclusive": st.booleans(), "valid_from": st.sampled_from(DATES), "valid_to": st.sampled_from(DATES), "note": st.text(max_size=20)},
    ),
    st.fixed_dictionaries(
        {"partner_id": st.sampled_from(PARTNERS), "adcodes": st.lists(st.sampled_from(ADCODES), max_size=4)},
        optional={"exclusive": st.booleans(), "valid_from": st.sampled_from(DATES), "valid_to": st.sampled_from(DATES)},
    ),
)
facility_keys = ["showroom_m2", "workshop_m2", "land_m2", "building_m2", "frontage_m", "staff", "bays_mech", "paint_booths"]
facility = st.dictionaries(
    st.sampled_from(facility_keys), st.one_of(st.floats(0, 5000), st.sampled_from([-1.0, 0.0, 1e308])), max_size=4
)
outlet_optional = {
    "partner_id": _opt(st.sampled_from(PARTNERS)),
    "format": _opt(st.sampled_from(FORMATS)),
    "role": _opt(st.sampled_from(ROLES)),
    "competitor": st.booleans(),
    "brand": _opt(st.text(max_size=10)),
    "facility": facility,
    "opened_on": _opt(st.sampled_from(DATES)),
    "note": _opt(st.text(max_size=20)),
}
outlet_body = st.fixed_dictionaries(
    {"name": st.text(min_size=0, max_size=20), "location": point, "site_type": st.sampled_from(SITE_TYPES)}, optional=outlet_optional
)
# Plausible ones too, so creation and its placement rule are reached: a competitor's outlet
# anywhere near a sample city, or partner 4's (smart, Jiujiang grant 360400) near Jiujiang.
valid_name = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x9FFF, exclude_categories=("Cs",)), min_size=1, max_size=12)
valid_site = st.sampled_from(SITE_TYPES[:3])
outlet_body = st.one_of(
    outlet_body,
    st.fixed_dictionaries(
        {"name": valid_name, "location": near.map(lambda c: {"type": "Point", "coordinates": list(c)}), "site_type": valid_site, "competitor": st.just(True)},
        optional={"brand": valid_name, "facility": facility, "opened_on": st.sampled_from(DATES[:3])},
    ),
    st.fixed_dictionaries(
        {
            "name": valid_name,
            "location": st.tuples(st.floats(115.9, 116.1), st.floats(29.6, 29.8)).map(lambda c: {"type": "Point", "coordinates": list(c)}),
            "site_type": valid_site,
            "partner_id": st.just(4),
            "format": st.just("light_showroom"),
        },
        optional={"facility": facility, "opened_on": st.sampled_from(DATES[:3])},
    ),
)
outlet_patch = st.fixed_dictionaries(
    {}, optional={"name": st.text(max_size=20), "location": _opt(point), "site_type": _opt(st.sampled_from(SITE_TYPES)), **outlet_optional}
)
candidate = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=6), st.integers(-5, 50).map(str)), "location": point},
    optional={"site_type": _opt(st.sampled_from(SITE_TYPES)), "format": _opt(st.sampled_from(FORMATS))},
)
score_body = st.fixed_dictionaries(
    {"candidates": st.lists(candidate, max_size=6)}, optional={"partner_id": _opt(st.sampled_from(PARTNERS))}
)
plan_body = st.fixed_dictionaries(
    {"k": st.one_of(st.integers(0, 5), st.sampled_from([-1, 1000, 2**31])), "candidates": st.lists(candidate, max_size=6)},
    optional={"partner_id": _opt(st.sampled_from(PARTNERS)), "min_gain": _opt(st.one_of(st.floats(0, 10), st.sampled_from([-1.0, 1e308]))), "within_territory": st.booleans()},
)
demand_value = st.one_of(
    st.floats(0, 1000).map(repr),
    st.floats(0, 1.7976931348623157e308).map(repr),
    st.sampled_from(["0", "-1", "NaN", "inf", "-inf", "1e309", "1e-320", "abc", "", " 3 ", "0x10", "1_000"]),
    st.sampled_from(["1e308", "1.7976931348623157e308", "8.98846567431158e307"]),
)
demand_row = st.tuples(st.one_of(st.sampled_from(CELLS), st.sampled_from(CELLS), st.sampled_from(OTHER_CELLS)), demand_value)
demand_csv = st.tuples(
    st.sampled_from(["h3,demand", "demand,h3", "h3,demand,extra", "cell,value", "h3"]),
    st.lists(demand_row, max_size=40),
    st.sampled_from(["\n", "\r\n"]),
).map(lambda t: t[2].join([t[0]] + [(f"{c},{d}" if t[0] != "demand,h3" else f"{d},{c}") for c, d in t[1]]) + t[2])
demand_json = st.lists(demand_row, max_size=30).map(
    lambda rows: json.dumps({"cells": [{"h3": c, "demand": (float(d) if re.fullmatch(r"-?[0-9.e+-]+", d) else d)} for c, d in rows]})
)
partner_body = st.fixed_dictionaries(
    {"name": st.text(max_size=20), "tier": st.sampled_from(["city_partner", "regional_core", "regional", "dealer", "", "boss"])}
)

# Issue 21's routes: reservations (then confirmed), a grant's end moved, stage moves,
# partners' records and terminations, with days that reach the service's own rules.
LATER = ["2030-12-31", "2099-01-01", "9999-12-31"]
reserve_body = st.fixed_dictionaries(
    {"partner_id": st.sampled_from(PARTNERS), "adcodes": st.lists(st.sampled_from(ADCODES), min_size=1, max_size=2)},
    optional={"reserved_until": st.sampled_from(LATER + DATES), "valid_from": st.sampled_from(DATES)},
)
valid_to_body = st.fixed_dictionaries(
    {"valid_to": st.one_of(st.none(), st.sampled_from(LATER + DATES))}, optional={"reason": st.text(max_size=10), "force": st.booleans()}
)
stage_body = st.fixed_dictionaries(
    {"status": st.sampled_from(["approved", "under_construction", "open", "rejected", "cancelled", "closed", "proposed", "built"])},
    optional={"on": st.sampled_from(DATES), "planned_open_on": st.sampled_from(LATER + DATES), "reason": st.text(max_size=10)},
)
partner_patch = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=12),
        "contact_email": _opt(st.sampled_from(["a@b.cn", "nobody", ""])),
        "contact_phone": _opt(st.text(max_size=12)),
        "external_id": _opt(st.sampled_from(["D-1", "D-2", ""])),
        "status": st.sampled_from(["active", "suspended", "terminated", "gone"]),
        "tier": st.sampled_from(["dealer"]),
    },
)
terminate_body = st.fixed_dictionaries({}, optional={"last_day": st.sampled_from(LATER + DATES), "reason": st.text(max_size=10), "force": st.booleans()})

BODIES = [
    ("POST", re.compile(r"^/networks/\{net\}/grants$"), reserve_body),
    ("PATCH", re.compile(r"^/networks/\{net\}/grants/\{id\}$"), valid_to_body),
    ("POST", re.compile(r"^/networks/\{net\}/outlets/\{id\}/stage$"), stage_body),
    ("PATCH", re.compile(r"^/networks/\{net\}/partners/\{id\}$"), partner_patch),
    ("POST", re.compile(r"^/networks/\{net\}/partners/\{id\}/terminate$"), terminate_body),
    ("POST", re.compile(r"^/networks/\{net\}/grants(/check)?$"), grant_body),
    ("POST", re.compile(r"^/networks/\{net\}/outlets$"), outlet_body),
    ("PATCH", re.compile(r"^/networks/\{net\}/outlets/\{id\}$"), outlet_patch),
    ("POST", re.compile(r"^/networks/\{net\}/score$"), score_body),
    ("POST", re.compile(r"^/networks/\{net\}/plan$"), plan_body),
    ("PUT", re.compile(r"^/networks/\{net\}/demand$"), st.one_of(demand_csv, demand_csv, demand_json)),
    ("POST", re.compile(r"^/networks/\{net\}/partners$"), partner_body),
]


@schemathesis.hook
def before_generate_body(ctx, strategy):
    """Mixes service-aware bodies (see above) into the generated ones, half and half."""
    op = ctx.operation
    if op is None:
        return strategy
    mine = [ours for method, path, ours in BODIES if op.method.upper() == method and path.match(op.path)]
    return st.one_of(strategy, *mine) if mine else strategy


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """Sends CSV demand grids as `text/csv`, the type the service reads CSV by.

    The spec declares the demand body as `text/plain` (utoipa's default for a String body),
    which the service parses as JSON; without this a CSV body would never reach the CSV reader.
    Bodies that look like JSON keep the declared type.
    """
    op = case.operation
    if op.method.upper() == "PUT" and op.path == "/networks/{net}/demand" and isinstance(case.body, str):
        if not case.body.lstrip().startswith(("{", "[")) and zlib.crc32(case.body.encode()) % 4 != 0:
            case.headers = {**(case.headers or {}), "Content-Type": "text/csv"}
