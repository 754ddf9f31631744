"""Opens territory's layers in QGIS, headless: the OGC API – Features collection as a
vector layer (counting its features), and the vector tiles from the XYZ template (QGIS
fetches and renders one tile; we count the pixels it painted). Run by
tests/integration/gis_clients.rs in a subprocess (QGIS 3.22 can crash on a bad server):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/gis/qgis_check.py BASE COLLECTION Z X Y

Prints one JSON line: {"qgis", "oapif_valid", "oapif_count", "oapif_fields",
"tiles_valid", "tile_painted_pixels"}; exit status 0 when both layers loaded.
"""
import json
import os
import sys

from PyQt5.QtCore import QSize
from PyQt5.QtGui import QColor
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsFillSymbol,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsMarkerSymbol,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileBasicRenderer,
    QgsVectorTileBasicRendererStyle,
    QgsVectorTileLayer,
    QgsWkbTypes,
)

HALF_WORLD = 20037508.342789244


def tile_extent(z, x, y):
    size = 2 * HALF_WORLD / (1 << z)
    left, top = -HALF_WORLD + x * size, HALF_WORLD - y * size
    return QgsRectangle(left, top - size, left + size, top)


def painted_pixels(layer, z, x, y):
    """Renders tile z/x/y of the layer at 256 px in pure red; counts the red pixels."""
    polygon = QgsVectorTileBasicRendererStyle("polygons", "", QgsWkbTypes.PolygonGeometry)
    polygon.setSymbol(QgsFillSymbol.createSimple({"color": "255,0,0,255", "outline_style": "no"}))
    point = QgsVectorTileBasicRendererStyle("points", "", QgsWkbTypes.PointGeometry)
    point.setSymbol(QgsMarkerSymbol.createSimple({"color": "255,0,0,255", "size": "4", "outline_style": "no"}))
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles([polygon, point])
    layer.setRenderer(renderer)
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(tile_extent(z, x, y))
    settings.setOutputSize(QSize(256, 256))
    settings.setBackgroundColor(QColor(255, 255, 255))
    red = 0
    # QGIS 3.22 draws tiles that arrive after a frame has started on a later frame (from
    # its network cache), so render until something is painted, at most three frames.
    for _ in range(3):
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        red = sum(
            1
            for py in range(image.height())
            for px in range(image.width())
            if (lambda c: c.red() > 200 and c.green() < 60 and c.blue() < 60)(QColor(image.pixel(px, py)))
        )
        if red:
            break
        QgsApplication.processEvents()
    return red


def main():
    base, collection, z, x, y = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    app = QgsApplication([], False)
    app.initQgis()
    out = {"qgis": Qgis.QGIS_VERSION}

    oapif = QgsVectorLayer(f"url='{base}/ogc' typename='{collection}'", collection, "OAPIF")
    out["oapif_valid"] = oapif.isValid()
    out["oapif_error"] = None if oapif.isValid() else oapif.error().summary()
    out["oapif_count"] = sum(1 for _ in oapif.getFeatures(QgsFeatureRequest())) if oapif.isValid() else None
    out["oapif_fields"] = [f.name() for f in oapif.fields()] if oapif.isValid() else []

    template = f"{base}/tiles/{collection}/{{z}}/{{x}}/{{y}}.mvt"
    tiles = QgsVectorTileLayer(f"type=xyz&url={template}&zmin=0&zmax=14", collection + " tiles")
    out["tiles_valid"] = tiles.isValid()
    out["tile_painted_pixels"] = painted_pixels(tiles, z, x, y) if tiles.isValid() else None
    print(json.dumps(out, ensure_ascii=False), flush=True)
    ok = out["oapif_valid"] and out["tiles_valid"]
    # QGIS 3.22 may crash while tearing down; the answer is printed already.
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
