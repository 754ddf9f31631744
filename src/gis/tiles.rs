//! Mapbox vector tiles (MVT 2.1) in Web Mercator (EPSG:3857) XYZ addressing, rendered
//! from layers: geometries are projected, simplified to the tile's resolution, clipped to
//! the tile plus a buffer, and encoded with geozero. Regions show districts only from
//! zoom 7 (cities from 5); demand cells are summed into coarser H3 cells at low zoom so
//! that a hexagon is never smaller than a few pixels.

use super::layer::{DEMAND_FIELDS, Feature, Features, FieldValue, Layer, cell_feature};
use crate::domain::demand::DemandGrid;
use geo::{BooleanOps, Coord, Geometry, MapCoords, MultiPolygon, Rect, Simplify, coord};
use geozero::ToMvt;
use geozero::mvt::{Message, TagsBuilder, Tile, TileValue, tile};
use h3o::{CellIndex, Resolution};
use std::collections::HashMap;

/// Tile coordinate space of every layer.
pub const EXTENT: u32 = 4096;
/// Buffer around a tile, in tile units, so strokes do not stop at tile edges.
const BUFFER: f64 = 64.0;
/// Highest zoom served.
pub const MAX_ZOOM: u8 = 22;
/// Half the width of the Web Mercator world, metres.
const HALF_WORLD: f64 = 20_037_508.342_789_244;
/// Latitude limit of Web Mercator.
const MAX_LAT: f64 = 85.051_128_779_806_6;

/// Lon/lat (degrees) to Web Mercator metres.
pub fn mercator(c: Coord<f64>) -> Coord<f64> {
    let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
    coord! {x: c.x.to_radians() * 6_378_137.0, y: (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() * 6_378_137.0}
}

/// Bounds of tile `z/x/y` in Web Mercator metres: (left, bottom, right, top).
pub fn tile_bounds(z: u8, x: u32, y: u32) -> (f64, f64, f64, f64) {
    let size = 2.0 * HALF_WORLD / f64::from(1u32 << z);
    let left = -HALF_WORLD + f64::from(x) * size;
    let top = HALF_WORLD - f64::from(y) * size;
    (left, top - size, left + size, top)
}

/// Bounds of tile `z/x/y` widened by `margin` (a fraction of the tile) in WGS84 degrees.
pub fn tile_box_wgs84(z: u8, x: u32, y: u32, margin: f64) -> Rect<f64> {
    let n = f64::from(1u32 << z);
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| (std::f64::consts::PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
    let (x, y) = (f64::from(x), f64::from(y));
    Rect::new(coord! {x: lon(x - margin), y: lat(y + 1.0 + margin)}, coord! {x: lon(x + 1.0 + margin), y: lat(y - margin)})
}

/// Whether `z/x/y` names a tile.
pub fn valid_tile(z: u8, x: u32, y: u32) -> bool {
    z <= MAX_ZOOM && u64::from(x) < (1u64 << z) && u64::from(y) < (1u64 << z)
}

/// Smallest zoom at which a region of this level is drawn.
fn region_min_zoom(level: &str) -> u8 {
    match level {
        "province" => 0,
        "city" => 5,
        _ => 7,
    }
}

/// Mean H3 edge length per resolution, km (H3 reference tables).
const H3_EDGE_KM: [f64; 16] = [1107.71, 418.68, 158.24, 59.81, 22.61, 8.54, 3.23, 1.22, 0.461, 0.174, 0.066, 0.025, 0.0094, 0.0036, 0.0013, 0.0005];

/// The H3 resolution demand is shown at on zoom `z`: the finest whose edge still spans
/// about four pixels (capped by the grid's own resolution).
pub fn demand_resolution(z: u8, grid: Resolution) -> Resolution {
    let pixel_km = 40_075.016_7 / 256.0 / f64::from(1u32 << z.min(30));
    let finest = (0..=u8::from(grid)).rev().find(|&r| H3_EDGE_KM[usize::from(r)] >= 4.0 * pixel_km).unwrap_or(0);
    Resolution::try_from(finest).unwrap_or(grid)
}

/// Demand summed into cells of `res` for the cells near the tile box.
fn coarse_demand(grid: &DemandGrid, res: Resolution, b: &Rect<f64>) -> Vec<Feature> {
    let margin = 2.5 * H3_EDGE_KM[usize::from(u8::from(res))] / 111.0;
    let lat_scale = 1.0 / b.max().y.abs().max(b.min().y.abs()).min(80.0).to_radians().cos();
    let wide = [b.min().x - margin * lat_scale, b.min().y - margin, b.max().x + margin * lat_scale, b.max().y + margin];
    let mut sums: HashMap<CellIndex, f64> = HashMap::new();
    for i in grid.ranges_in_box(wide).into_iter().flatten() {
        let Ok(cell) = CellIndex::try_from(grid.cells[i]) else { continue };
        if let Some(parent) = cell.parent(res) {
            *sums.entry(parent).or_default() += grid.demand[i];
        }
    }
    let mut cells: Vec<(CellIndex, f64)> = sums.into_iter().collect();
    cells.sort_by_key(|(c, _)| u64::from(*c));
    let coarse = DemandGrid::new(cells, res);
    (0..coarse.len()).map(|i| cell_feature(&coarse, i)).filter(|f| f.meets(b)).collect()
}

fn tile_value(v: &FieldValue) -> Option<TileValue> {
    match v {
        FieldValue::Null => None,
        FieldValue::Integer(i) => Some(TileValue::Int(*i)),
        FieldValue::Real(r) => Some(TileValue::Double(*r)),
        FieldValue::Text(s) => Some(TileValue::Str(s.clone())),
        FieldValue::Boolean(b) => Some(TileValue::Bool(*b)),
    }
}

/// A geometry projected, simplified and clipped for a tile; `None` when nothing is left.
fn prepare(g: &Geometry<f64>, clip: &Rect<f64>, tolerance: f64) -> Option<Geometry<f64>> {
    let projected = g.map_coords(mercator);
    let polygons = match projected {
        Geometry::Point(p) => return clip.intersects_point(p.0).then_some(Geometry::Point(p)),
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        _ => return None,
    };
    let simplified: MultiPolygon<f64> = polygons.simplify(tolerance);
    let inside = geo::BoundingRect::bounding_rect(&simplified)
        .is_some_and(|r| r.min().x >= clip.min().x && r.min().y >= clip.min().y && r.max().x <= clip.max().x && r.max().y <= clip.max().y);
    let clipped = if inside { simplified } else { simplified.intersection(&MultiPolygon(vec![clip.to_polygon()])) };
    let min_area = tolerance * tolerance;
    let kept: Vec<geo::Polygon<f64>> = clipped
        .0
        .into_iter()
        .filter(|p| p.exterior().0.len() >= 4 && geo::Area::unsigned_area(p) >= min_area)
        // MVT wants exterior rings with positive area in y-down tile coordinates: clockwise
        // here, in y-up metres, before the writer flips y.
        .map(|p| geo::orient::Orient::orient(&p, geo::orient::Direction::Reversed))
        .collect();
    (!kept.is_empty()).then_some(Geometry::MultiPolygon(MultiPolygon(kept)))
}

trait IntersectsPoint {
    fn intersects_point(&self, c: Coord<f64>) -> bool;
}

impl IntersectsPoint for Rect<f64> {
    fn intersects_point(&self, c: Coord<f64>) -> bool {
        c.x >= self.min().x && c.x <= self.max().x && c.y >= self.min().y && c.y <= self.max().y
    }
}

/// Renders one tile of `layer` as an MVT with one layer named `name`.
pub fn render(layer: &Layer, name: &str, z: u8, x: u32, y: u32) -> Vec<u8> {
    let (left, bottom, right, top) = tile_bounds(z, x, y);
    let unit = (right - left) / f64::from(EXTENT);
    let clip = Rect::new(coord! {x: left - BUFFER * unit, y: bottom - BUFFER * unit}, coord! {x: right + BUFFER * unit, y: top + BUFFER * unit});
    let select_box = tile_box_wgs84(z, x, y, BUFFER / f64::from(EXTENT));

    let (fields, features): (&[super::layer::Field], Vec<std::borrow::Cow<'_, Feature>>) = match &layer.features {
        Features::Cells(grid) if demand_resolution(z, grid.resolution) != grid.resolution => {
            let res = demand_resolution(z, grid.resolution);
            (DEMAND_FIELDS, coarse_demand(grid, res, &select_box).into_iter().map(std::borrow::Cow::Owned).collect())
        }
        _ => (layer.fields, layer.matching(Some(&select_box)).into_iter().map(|i| layer.feature(i)).collect()),
    };
    let level_field = (layer.id == "regions").then(|| fields.iter().position(|f| f.name == "level")).flatten();

    let mut tags = TagsBuilder::new();
    let mut out = Vec::new();
    for f in &features {
        if let Some(k) = level_field
            && let FieldValue::Text(level) = &f.values[k]
            && z < region_min_zoom(level)
        {
            continue;
        }
        let Some(geometry) = prepare(&f.geometry, &clip, unit) else { continue };
        let Ok(mut feature) = geometry.to_mvt(EXTENT, left, bottom, right, top) else { continue };
        feature.id = u64::try_from(f.id).ok();
        for (field, value) in fields.iter().zip(&f.values) {
            if let Some(v) = tile_value(value) {
                let (k, v) = tags.insert_ref(field.name, v);
                feature.tags.push(k);
                feature.tags.push(v);
            }
        }
        out.push(feature);
    }
    let (keys, values) = tags.into_tags();
    let mvt_layer = tile::Layer {
        version: 2,
        name: name.to_string(),
        features: out,
        keys,
        values: values.into_iter().map(tile::Value::from).collect(),
        extent: Some(EXTENT),
    };
    Tile { layers: vec![mvt_layer] }.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_bounds_cover_the_world_at_zoom_zero() {
        let (l, b, r, t) = tile_bounds(0, 0, 0);
        assert_eq!((l, b, r, t), (-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD));
        let m = mercator(coord! {x: 180.0, y: MAX_LAT});
        assert!((m.x - HALF_WORLD).abs() < 1e-6 && (m.y - HALF_WORLD).abs() < 1e-3, "{m:?}");
    }

    #[test]
    fn tile_box_matches_the_slippy_map_formula() {
        // Guangzhou (113.26, 23.13) at z=10 is tile 834/444.
        let b = tile_box_wgs84(10, 834, 444, 0.0);
        assert!(b.min().x <= 113.26 && b.max().x >= 113.26 && b.min().y <= 23.13 && b.max().y >= 23.13, "{b:?}");
    }

    #[test]
    fn demand_gets_coarser_when_zooming_out() {
        let r8 = Resolution::Eight;
        let res: Vec<u8> = (0..=14).map(|z| u8::from(demand_resolution(z, r8))).collect();
        assert!(res.windows(2).all(|w| w[0] <= w[1]), "{res:?}");
        assert_eq!(res[14], 8);
        assert!(res[4] <= 4, "{res:?}");
    }
}
