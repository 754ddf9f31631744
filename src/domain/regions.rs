//! Administrative regions (GB/T 2260): the hierarchy province → city → district, with
//! their boundaries, and the validation of region layers on import.

use crate::geometry::{self, CoordSys, GeometryLimits};
use crate::input::InputError;
use geo::MultiPolygon;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Administrative level of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 省级: province, autonomous region, municipality.
    Province,
    /// 地级: prefecture-level city.
    City,
    /// 县级: district, county, county-level city.
    District,
}

impl Level {
    /// The code used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::District => "district",
        }
    }

    /// Parses `province` / `city` / `district`.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "province" => Some(Level::Province),
            "city" => Some(Level::City),
            "district" => Some(Level::District),
            _ => None,
        }
    }
}

/// One administrative unit with its boundary.
#[derive(Debug, Clone)]
pub struct Region {
    /// GB/T 2260 code, six digits.
    pub adcode: String,
    /// Chinese name.
    pub name: String,
    /// Administrative level.
    pub level: Level,
    /// The unit this one belongs to; `None` for provinces.
    pub parent_adcode: Option<String>,
    /// Boundary (WGS84) with its area and box, prepared for overlap tests and shared by
    /// territories naming this region.
    pub shape: geometry::Shape,
    /// The boundary as GeoJSON, serialised once.
    pub geojson: Arc<RawValue>,
}

impl Region {
    /// Builds a region, measuring its area and bounding box.
    pub fn new(adcode: String, name: String, level: Level, parent_adcode: Option<String>, geometry: MultiPolygon<f64>) -> Region {
        let geojson = geometry::raw_geojson(&geometry);
        let shape = geometry::Shape::new(Arc::new(geometry));
        Region { adcode, name, level, parent_adcode, shape, geojson }
    }
}

/// All regions in memory, with the hierarchy.
#[derive(Debug, Default, Clone)]
pub struct RegionSet {
    by_code: HashMap<String, Arc<Region>>,
}

impl RegionSet {
    /// Builds the set from loaded regions.
    pub fn new(regions: impl IntoIterator<Item = Region>) -> RegionSet {
        RegionSet { by_code: regions.into_iter().map(|r| (r.adcode.clone(), Arc::new(r))).collect() }
    }

    /// The region with this adcode.
    pub fn get(&self, adcode: &str) -> Option<&Arc<Region>> {
        self.by_code.get(adcode)
    }

    /// Every region, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Region>> {
        self.by_code.values()
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Whether no region is loaded.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// The strict ancestors of a region, nearest first (city, then province).
    pub fn ancestors(&self, adcode: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = adcode.to_string();
        while let Some(parent) = self.by_code.get(&current).and_then(|r| r.parent_adcode.clone()) {
            if parent == current || out.contains(&parent) || out.len() > 4 {
                break;
            }
            out.push(parent.clone());
            current = parent;
        }
        out
    }

    /// The region of a level whose polygon covers the point (boundary included), if any;
    /// on a shared border, the lowest adcode.
    pub fn containing(&self, point: geo::Point<f64>, level: Level) -> Option<&Arc<Region>> {
        use geo::{CoordinatePosition, Intersects, coordinate_position::CoordPos};
        let c: geo::Coord<f64> = point.into();
        let mut found: Vec<&Arc<Region>> = self
            .by_code
            .values()
            .filter(|r| r.level == level && r.shape.bbox.intersects(&c) && r.shape.geometry.coordinate_position(&c) != CoordPos::Outside)
            .collect();
        found.sort_by(|a, b| a.adcode.cmp(&b.adcode));
        found.first().copied()
    }

    /// How much of an area lies outside every stored province: (km², share of the area).
    /// `None` when no province is stored (nothing to check against).
    pub fn outside_provinces(&self, area: &geometry::Shape, tolerance: geometry::SliverTolerance) -> Option<(f64, f64)> {
        use geo::Intersects;
        let provinces: Vec<&Arc<Region>> = self.by_code.values().filter(|r| r.level == Level::Province).collect();
        if provinces.is_empty() {
            return None;
        }
        let mut inside = 0.0;
        for p in provinces.into_iter().filter(|p| p.shape.bbox.intersects(&area.bbox)) {
            crate::budget::check();
            inside += match geometry::overlap(area, &p.shape, tolerance) {
                geometry::Overlap::None => 0.0,
                geometry::Overlap::Sliver(m) | geometry::Overlap::Conflict(m) => m.km2,
            };
        }
        let outside = (area.area_km2 - inside).max(0.0);
        Some((outside, if area.area_km2 > 0.0 { outside / area.area_km2 } else { 0.0 }))
    }

    /// Whether `ancestor` contains `descendant` in the hierarchy (strictly).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.ancestors(descendant).iter().any(|a| a == ancestor)
    }
}

/// A region read from an import file, validated.
#[derive(Debug, Clone)]
pub struct RegionInput {
    /// The region.
    pub region: Region,
}

/// A bad feature of a region layer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeatureError {
    /// Index of the feature in the collection.
    pub feature: usize,
    /// Its adcode, when it has a readable one.
    pub adcode: Option<String>,
    /// What is wrong, and where.
    pub problems: Vec<InputError>,
}

fn is_adcode(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn prop_string(props: &Value, key: &str) -> Option<String> {
    match props.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Validates a GeoJSON FeatureCollection of regions (properties `adcode`, `name`, `level`,
/// `parent_adcode`). `known` are adcodes already stored, which parents may refer to.
/// Returns every region, or every bad feature with its problems.
///
/// A feature whose `parent_adcode` is its own adcode (Dongguan, Zhongshan and Hubei's
/// directly administered cities appear in the city and district layers alike) is the same
/// unit again: it is skipped when the unit is in `known` or earlier in the file, otherwise
/// stored at its own level with no parent.
pub fn parse_layer(collection: &Value, known: &HashSet<String>, mut progress: impl FnMut(usize)) -> Result<Vec<RegionInput>, Vec<FeatureError>> {
    let top = |detail: &str| vec![FeatureError { feature: 0, adcode: None, problems: vec![InputError { pointer: "".into(), detail: detail.into() }] }];
    if collection.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(top("a GeoJSON FeatureCollection is expected"));
    }
    let Some(features) = collection.get("features").and_then(Value::as_array) else {
        return Err(top("`features` must be an array"));
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let in_file: HashSet<String> = features.iter().filter_map(|f| f.get("properties").and_then(|p| prop_string(p, "adcode"))).collect();
    for (i, feature) in features.iter().enumerate() {
        progress(i);
        let base = format!("/features/{i}");
        let mut problems = Vec::new();
        let mut problem = |pointer: String, detail: String| problems.push(InputError { pointer, detail });
        let props = feature.get("properties").cloned().unwrap_or(Value::Null);
        let adcode = prop_string(&props, "adcode");
        match &adcode {
            Some(a) if is_adcode(a) => {}
            Some(a) => problem(format!("{base}/properties/adcode"), format!("`{a}` is not a six-digit GB/T 2260 code")),
            None => problem(format!("{base}/properties/adcode"), "missing".into()),
        }
        let name = prop_string(&props, "name").filter(|n| !n.trim().is_empty());
        if name.is_none() {
            problem(format!("{base}/properties/name"), "missing or empty".into());
        }
        let level = prop_string(&props, "level");
        let level = match level.as_deref().map(|l| (l, Level::parse(l))) {
            Some((_, Some(l))) => Some(l),
            Some((l, None)) => {
                problem(format!("{base}/properties/level"), format!("`{l}` is not one of province, city, district"));
                None
            }
            None => {
                problem(format!("{base}/properties/level"), "missing".into());
                None
            }
        };
        let parent = prop_string(&props, "parent_adcode");
        match (level, &parent) {
            (Some(Level::Province), Some(p)) => problem(format!("{base}/properties/parent_adcode"), format!("a province has no parent, found `{p}`")),
            (Some(Level::City | Level::District), None) => {
                problem(format!("{base}/properties/parent_adcode"), "missing: a city or district needs its parent".into())
            }
            (_, Some(p)) if !known.contains(p) && !in_file.contains(p) => {
                problem(format!("{base}/properties/parent_adcode"), format!("unknown parent `{p}`: import its layer first"))
            }
            _ => {}
        }
        let geometry = match feature.get("geometry") {
            Some(g) => {
                match geometry::parse_area(g, &format!("{base}/geometry"), CoordSys::Wgs84, GeometryLimits { max_vertices: 2_000_000, max_rings: usize::MAX }) {
                    Ok(mp) => Some(mp),
                    Err(errs) => {
                        problems.extend(errs);
                        None
                    }
                }
            }
            None => {
                problems.push(InputError { pointer: format!("{base}/geometry"), detail: "missing".into() });
                None
            }
        };
        if let Some(a) = &adcode
            && !seen.insert(a.clone())
            && parent.as_deref() != Some(a)
        {
            problems.push(InputError { pointer: format!("{base}/properties/adcode"), detail: format!("adcode {a} occurs twice in the file") });
        }
        match (problems.is_empty(), adcode, name, level, geometry) {
            (true, Some(adcode), Some(name), Some(level), Some(geometry)) => {
                let self_parent = parent.as_deref() == Some(adcode.as_str());
                if self_parent && (known.contains(&adcode) || out.iter().any(|r: &RegionInput| r.region.adcode == adcode)) {
                    continue;
                }
                let parent = if self_parent { None } else { parent };
                out.push(RegionInput { region: Region::new(adcode, name, level, parent, geometry) });
            }
            (_, adcode, ..) => bad.push(FeatureError { feature: i, adcode, problems }),
        }
    }
    if bad.is_empty() { Ok(out) } else { Err(bad) }
}
