//! A layer as every GIS output sees it: a schema (typed fields), a geometry type, and
//! features with integer ids. Small layers are lists; the demand grid stays the compact
//! grid and yields its hexagons one at a time.

use crate::domain::demand::DemandGrid;
use geo::{BoundingRect, Geometry, Intersects, Rect, coord};
use h3o::CellIndex;
use std::borrow::Cow;
use std::sync::Arc;

/// The type of a field, as GeoPackage and OGC clients know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// 64-bit integer.
    Integer,
    /// Double.
    Real,
    /// UTF-8 text.
    Text,
    /// True or false.
    Boolean,
    /// ISO 8601 date (`2025-03-15`).
    Date,
    /// ISO 8601 UTC timestamp.
    DateTime,
}

impl FieldType {
    /// The GeoPackage column type.
    pub fn gpkg(self) -> &'static str {
        match self {
            FieldType::Integer => "INTEGER",
            FieldType::Real => "REAL",
            FieldType::Text => "TEXT",
            FieldType::Boolean => "BOOLEAN",
            FieldType::Date => "DATE",
            FieldType::DateTime => "DATETIME",
        }
    }

    /// The JSON Schema of a value of this type (for the OGC queryables and OpenAPI).
    pub fn json_schema(self) -> serde_json::Value {
        match self {
            FieldType::Integer => serde_json::json!({"type": "integer"}),
            FieldType::Real => serde_json::json!({"type": "number"}),
            FieldType::Text => serde_json::json!({"type": "string"}),
            FieldType::Boolean => serde_json::json!({"type": "boolean"}),
            FieldType::Date => serde_json::json!({"type": "string", "format": "date"}),
            FieldType::DateTime => serde_json::json!({"type": "string", "format": "date-time"}),
        }
    }
}

/// A named, typed attribute of a layer's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Column name.
    pub name: &'static str,
    /// Its type.
    pub kind: FieldType,
}

/// Shorthand for a [`Field`].
pub const fn field(name: &'static str, kind: FieldType) -> Field {
    Field { name, kind }
}

/// One attribute value (`Text` also carries dates and timestamps).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// No value.
    Null,
    /// Integer.
    Integer(i64),
    /// Double (never NaN: non-finite values are written as `Null`).
    Real(f64),
    /// Text, date or timestamp.
    Text(String),
    /// Boolean.
    Boolean(bool),
}

impl FieldValue {
    /// A real that is `Null` when not finite.
    pub fn real(v: f64) -> FieldValue {
        if v.is_finite() { FieldValue::Real(v) } else { FieldValue::Null }
    }

    /// Optional text.
    pub fn text<S: ToString>(v: Option<S>) -> FieldValue {
        v.map_or(FieldValue::Null, |s| FieldValue::Text(s.to_string()))
    }

    /// As a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Null => serde_json::Value::Null,
            FieldValue::Integer(i) => (*i).into(),
            FieldValue::Real(r) => serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, serde_json::Value::Number),
            FieldValue::Text(s) => s.clone().into(),
            FieldValue::Boolean(b) => (*b).into(),
        }
    }
}

/// The geometry type every feature of a layer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryType {
    /// Points.
    Point,
    /// Single polygons.
    Polygon,
    /// Multipolygons.
    MultiPolygon,
}

impl GeometryType {
    /// The OGC name (`POINT`, `POLYGON`, `MULTIPOLYGON`).
    pub fn ogc_name(self) -> &'static str {
        match self {
            GeometryType::Point => "POINT",
            GeometryType::Polygon => "POLYGON",
            GeometryType::MultiPolygon => "MULTIPOLYGON",
        }
    }
}

/// One feature: id, geometry (WGS84 lon/lat) and values in the layer's field order.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Stable id (a grant id, an adcode, an H3 index, ...).
    pub id: i64,
    /// Geometry in WGS84.
    pub geometry: Geometry<f64>,
    /// Bounding box of the geometry.
    pub bbox: Rect<f64>,
    /// Values, one per field of the layer.
    pub values: Vec<FieldValue>,
}

impl Feature {
    /// A feature; its bounding box is computed.
    pub fn new(id: i64, geometry: Geometry<f64>, values: Vec<FieldValue>) -> Feature {
        let bbox = geometry.bounding_rect().unwrap_or_else(|| Rect::new(coord! {x: 0.0, y: 0.0}, coord! {x: 0.0, y: 0.0}));
        Feature { id, geometry, bbox, values }
    }

    /// Whether the feature meets the box (shares at least a point with it).
    pub fn meets(&self, bbox: &Rect<f64>) -> bool {
        self.bbox.intersects(bbox) && self.geometry.intersects(bbox)
    }
}

/// Where a layer's features come from.
#[derive(Debug, Clone)]
pub enum Features {
    /// A list of features, in id order.
    Listed(Vec<Feature>),
    /// The cells of a demand grid (fid = the H3 index).
    Cells(Arc<DemandGrid>),
}

/// A layer: what GeoJSON, GeoPackage, OGC API and vector tiles all serve.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Collection id: `regions` or `{net}.{layer}`.
    pub id: String,
    /// Human title.
    pub title: String,
    /// One-sentence description.
    pub description: String,
    /// Geometry type of every feature.
    pub geometry_type: GeometryType,
    /// Attribute schema.
    pub fields: &'static [Field],
    /// The features.
    pub features: Features,
}

/// Degrees a res-0 H3 cell's boundary can stray from its centre; finer cells stray less
/// (an edge shrinks by √7 per resolution).
fn cell_radius_deg(grid: &DemandGrid) -> f64 {
    let res = u8::from(grid.resolution) as i32;
    // res-0 circumradius is < 1,300 km (~11.7°); a margin keeps the test conservative.
    15.0 / 7f64.sqrt().powi(res)
}

/// The smallest box holding `a` (if any) and `b`.
pub fn union(a: Option<Rect<f64>>, b: Rect<f64>) -> Rect<f64> {
    match a {
        None => b,
        Some(a) => {
            Rect::new(coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)}, coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)})
        }
    }
}

/// Demand layer fields.
pub const DEMAND_FIELDS: &[Field] = &[field("h3", FieldType::Text), field("resolution", FieldType::Integer), field("demand", FieldType::Real)];

/// The hexagon of a cell as a feature of the demand layer.
pub fn cell_feature(grid: &DemandGrid, i: usize) -> Feature {
    let cell = CellIndex::try_from(grid.cells[i]).expect("grid cells are valid H3 indexes");
    let ring: Vec<geo::Coord<f64>> = cell.boundary().iter().map(|ll| coord! {x: ll.lng(), y: ll.lat()}).collect();
    let mut polygon = geo::Polygon::new(geo::LineString::from(ring), vec![]);
    use geo::orient::{Direction, Orient};
    polygon = polygon.orient(Direction::Default);
    Feature::new(
        grid.cells[i] as i64,
        Geometry::Polygon(polygon),
        vec![FieldValue::Text(cell.to_string()), FieldValue::Integer(i64::from(u8::from(cell.resolution()))), FieldValue::real(grid.demand[i])],
    )
}

impl Layer {
    /// Number of features.
    pub fn len(&self) -> usize {
        match &self.features {
            Features::Listed(f) => f.len(),
            Features::Cells(g) => g.len(),
        }
    }

    /// Whether the layer has no feature.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th feature (positions come from [`Layer::matching`]).
    pub fn feature(&self, i: usize) -> Cow<'_, Feature> {
        match &self.features {
            Features::Listed(f) => Cow::Borrowed(&f[i]),
            Features::Cells(g) => Cow::Owned(cell_feature(g, i)),
        }
    }

    /// The feature with this id.
    pub fn by_id(&self, id: i64) -> Option<Cow<'_, Feature>> {
        match &self.features {
            Features::Listed(f) => f.iter().find(|f| f.id == id).map(Cow::Borrowed),
            Features::Cells(g) => g.cells.iter().position(|&c| c as i64 == id).map(|i| Cow::Owned(cell_feature(g, i))),
        }
    }

    /// Positions of the features that meet `bbox` (all features without one), in a
    /// stable order: id order for lists, the grid's spatial order for cells.
    pub fn matching(&self, bbox: Option<&Rect<f64>>) -> Vec<usize> {
        match (&self.features, bbox) {
            (Features::Listed(f), None) => (0..f.len()).collect(),
            (Features::Listed(f), Some(b)) => (0..f.len()).filter(|&i| f[i].meets(b)).collect(),
            (Features::Cells(g), None) => (0..g.len()).collect(),
            (Features::Cells(g), Some(b)) => {
                let r = cell_radius_deg(g);
                let wide = [b.min().x - r * 4.0, b.min().y - r, b.max().x + r * 4.0, b.max().y + r];
                let mut out: Vec<usize> = g.ranges_in_box(wide).into_iter().flatten().filter(|&i| cell_feature(g, i).meets(b)).collect();
                out.sort_unstable();
                out
            }
        }
    }

    /// Bounding box of all features, `None` for an empty layer.
    pub fn extent(&self) -> Option<Rect<f64>> {
        let mut acc: Option<Rect<f64>> = None;
        let mut add = |r: Rect<f64>| acc = Some(union(acc, r));
        match &self.features {
            Features::Listed(f) => f.iter().for_each(|f| add(f.bbox)),
            Features::Cells(g) => {
                let r = cell_radius_deg(g);
                for c in &g.centres {
                    let (lon, lat) = crate::domain::demand::lon_lat(c);
                    add(Rect::new(coord! {x: lon - r, y: lat - r}, coord! {x: lon + r, y: lat + r}));
                }
            }
        }
        acc
    }
}
