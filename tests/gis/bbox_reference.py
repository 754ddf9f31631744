"""The ids of the features of a GeoJSON file that intersect a box, decided by GEOS
(through GDAL's OGR): the reference for the service's bbox filter.

    /usr/bin/python3 tests/gis/bbox_reference.py FILE.geojson MINX MINY MAXX MAXY

Prints the ids, sorted, one JSON array.
"""
import json
import sys

from osgeo import ogr


def main():
    path = sys.argv[1]
    minx, miny, maxx, maxy = (float(v) for v in sys.argv[2:6])
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy), (minx, miny)]:
        ring.AddPoint_2D(x, y)
    box = ogr.Geometry(ogr.wkbPolygon)
    box.AddGeometry(ring)
    with open(path, encoding="utf-8") as f:
        collection = json.load(f)
    ids = []
    for feature in collection["features"]:
        geometry = ogr.CreateGeometryFromJson(json.dumps(feature["geometry"]))
        if geometry.Intersects(box):
            ids.append(feature["id"])
    print(json.dumps(sorted(ids)))


if __name__ == "__main__":
    main()
