//! Outlets: the physical sites of a network's partners (and of competitors), and the rule
//! that places them: an own outlet stands inside an active grant of its partner and not
//! inside another partner's exclusive grant.

use crate::domain::exclusivity::NetworkGrants;
use crate::domain::grants::Grant;
use crate::domain::policy::Policy;
use crate::domain::standard::{COUNT_FIGURES, Facility};
use crate::geometry::CoordSys;
use crate::geometry::validate::check_position;
use crate::input::{InputError, MAX_CODE_CHARS, MAX_NAME_CHARS, MAX_NOTE_CHARS, too_long};
use chrono::NaiveDate;
use geo::coordinate_position::CoordPos;
use geo::{Coord, CoordinatePosition, Point};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

/// Open or closed; closed outlets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutletStatus {
    /// Operating.
    Open,
    /// Closed (kept as history).
    Closed,
}

impl OutletStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            OutletStatus::Open => "open",
            OutletStatus::Closed => "closed",
        }
    }
}

/// A request to create an outlet (docs/api.md, Outlets); also the shape an update is merged
/// onto (JSON Merge Patch, RFC 7396).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutletRequest {
    /// The partner operating the outlet; absent for a competitor's.
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// Name of the site.
    pub name: String,
    /// GeoJSON Point.
    #[schema(value_type = Object)]
    pub location: Value,
    /// Format from the network's standard (`flagship`, `light_showroom`, ...).
    #[serde(default)]
    pub format: Option<String>,
    /// Role from the standard (`sales_service`, `sales_touchpoint`, ...); default: the format's first.
    #[serde(default)]
    pub role: Option<String>,
    /// Site type from the policy's scoring parameters (`mall`, `auto_city`, `street`).
    pub site_type: String,
    /// A competitor's outlet: no partner, no territory rule.
    #[serde(default)]
    pub competitor: bool,
    /// A competitor's brand.
    #[serde(default)]
    pub brand: Option<String>,
    /// Opening date (ISO 8601).
    #[serde(default)]
    pub opened_on: Option<String>,
    /// Facility figures, each optional.
    #[serde(default)]
    pub facility: Facility,
    /// Free text.
    #[serde(default)]
    pub note: Option<String>,
    /// The caller's own key for the outlet (a dealer code), unique in the network.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A validated outlet, before or after it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlet {
    /// Id (0 before it is stored).
    pub id: i64,
    /// Network code.
    pub network: String,
    /// Operating partner; `None` for a competitor.
    pub partner_id: Option<i64>,
    /// A competitor's outlet.
    pub competitor: bool,
    /// A competitor's brand.
    pub brand: Option<String>,
    /// Name.
    pub name: String,
    /// WGS84 location.
    pub location: Point<f64>,
    /// Format code.
    pub format: Option<String>,
    /// Role code.
    pub role: Option<String>,
    /// Site type code.
    pub site_type: String,
    /// Opening date.
    pub opened_on: Option<NaiveDate>,
    /// Open or closed.
    pub status: OutletStatus,
    /// Closing date.
    pub closed_on: Option<NaiveDate>,
    /// Why it closed.
    pub close_reason: Option<String>,
    /// Facility figures.
    pub facility: Facility,
    /// Free text.
    pub note: String,
    /// The caller's own key, unique in the network.
    pub external_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl Outlet {
    /// Whether the outlet is open on `day`: opened by then (or with no opening day), and not
    /// closed by then.
    pub fn open_on(&self, day: NaiveDate) -> bool {
        self.opened_on.is_none_or(|d| d <= day) && (self.status != OutletStatus::Closed || self.closed_on.is_some_and(|c| c > day))
    }

    /// The outlet as a GeoJSON Feature (WGS84).
    pub fn feature(&self, partner_name: Option<&str>) -> Value {
        json!({
            "type": "Feature",
            "id": self.id,
            "geometry": {"type": "Point", "coordinates": [self.location.x(), self.location.y()]},
            "properties": {
                "id": self.id, "network": self.network, "partner_id": self.partner_id, "partner_name": partner_name,
                "competitor": self.competitor, "brand": self.brand, "name": self.name, "format": self.format,
                "role": self.role, "site_type": self.site_type, "opened_on": self.opened_on, "status": self.status,
                "closed_on": self.closed_on, "close_reason": self.close_reason, "facility": self.facility,
                "note": self.note, "external_id": self.external_id, "created_at": self.created_at, "updated_at": self.updated_at,
            },
        })
    }

    /// The outlet as the request that would create it (the base an update is merged onto).
    pub fn as_request(&self) -> OutletRequest {
        OutletRequest {
            partner_id: self.partner_id,
            name: self.name.clone(),
            location: json!({"type": "Point", "coordinates": [self.location.x(), self.location.y()]}),
            format: self.format.clone(),
            role: self.role.clone(),
            site_type: self.site_type.clone(),
            competitor: self.competitor,
            brand: self.brand.clone(),
            opened_on: self.opened_on.map(|d| d.to_string()),
            facility: self.facility,
            note: Some(self.note.clone()),
            external_id: self.external_id.clone(),
        }
    }
}

/// Parses a GeoJSON Point (in `sys`) into WGS84, with located errors under `base`.
pub fn parse_point(value: &Value, base: &str, sys: CoordSys) -> Result<Point<f64>, Vec<InputError>> {
    let at = |path: &str, detail: String| vec![InputError::at(format!("{base}{path}"), detail)];
    let Some(obj) = value.as_object() else { return Err(at("", "a GeoJSON Point object is expected".into())) };
    match obj.get("type").and_then(Value::as_str) {
        Some("Point") => {}
        Some(other) => return Err(at("/type", format!("expected `Point`, found `{other}`"))),
        None => return Err(at("/type", "missing `type`".into())),
    }
    let Some(pos) = obj.get("coordinates").filter(|c| c.is_array()) else {
        return Err(at("/coordinates", "a Point's coordinates are an array [longitude, latitude]".into()));
    };
    match check_position(pos, sys) {
        Ok(c) => Ok(Point::from(c)),
        Err((Some(i), detail)) => Err(at(&format!("/coordinates/{i}"), detail)),
        Err((None, detail)) => Err(at("/coordinates", detail)),
    }
}

/// Checks facility figures: finite, not negative, counts whole.
pub fn check_facility(f: &Facility, base: &str) -> Vec<InputError> {
    let mut errors = Vec::new();
    for (key, value) in f.figures() {
        let Some(v) = value else { continue };
        let pointer = format!("{base}/{key}");
        if !v.is_finite() {
            errors.push(InputError::at(pointer, "must be a finite number"));
        } else if v < 0.0 {
            errors.push(InputError::at(pointer, format!("{v} is negative")));
        } else if COUNT_FIGURES.contains(&key) && v.fract() != 0.0 {
            errors.push(InputError::at(pointer, format!("{v} is not a whole number")));
        }
    }
    errors
}

/// Checks an outlet request against the network's policy and standard: format, role,
/// site type, partner presence, dates and figures. `partner_known` says whether the
/// named partner exists in the network. Returns the outlet (id 0, open) or every problem.
pub fn validate(network: &str, req: &OutletRequest, policy: &Policy, partner_known: bool, sys: CoordSys) -> Result<Outlet, Vec<InputError>> {
    let standard = policy.standard();
    let mut errors = Vec::new();
    if req.name.trim().is_empty() {
        errors.push(InputError::at("/name", "must not be empty"));
    }
    errors.extend(too_long("/name", &req.name, MAX_NAME_CHARS));
    errors.extend(req.brand.as_deref().and_then(|b| too_long("/brand", b, MAX_NAME_CHARS)));
    errors.extend(req.note.as_deref().and_then(|n| too_long("/note", n, MAX_NOTE_CHARS)));
    errors.extend(req.external_id.as_deref().and_then(|e| too_long("/external_id", e, MAX_CODE_CHARS)));
    let location = parse_point(&req.location, "/location", sys).map_err(|e| errors.extend(e)).ok();
    match (req.competitor, req.partner_id) {
        (false, None) => errors.push(InputError::at("/partner_id", "an own outlet needs its partner (or say `competitor: true`)")),
        (false, Some(id)) if !partner_known => errors.push(InputError::at("/partner_id", format!("no partner {id} in network `{network}`"))),
        (true, Some(_)) => errors.push(InputError::at("/partner_id", "a competitor's outlet has no partner in this network")),
        _ => {}
    }
    if !req.competitor && req.brand.is_some() {
        errors.push(InputError::at("/brand", "`brand` is for competitors' outlets; an own outlet carries the network's brand"));
    }
    let format = match &req.format {
        Some(code) => match standard.format(code) {
            Some(f) => Some(f),
            None => {
                errors.push(InputError::at(
                    "/format",
                    format!("unknown format `{code}`; formats of standard `{}`: {:?}", standard.code, standard.format_codes()),
                ));
                None
            }
        },
        None if !req.competitor => {
            errors.push(InputError::at("/format", format!("an own outlet needs a format: one of {:?}", standard.format_codes())));
            None
        }
        None => None,
    };
    let role = match (&req.role, format) {
        (Some(code), _) if standard.role(code).is_none() => {
            let roles: Vec<&str> = standard.roles.iter().map(|r| r.code.as_str()).collect();
            errors.push(InputError::at("/role", format!("unknown role `{code}`; roles of standard `{}`: {roles:?}", standard.code)));
            None
        }
        (Some(code), Some(f)) if !f.roles.contains(code) => {
            errors.push(InputError::at("/role", format!("a `{}` outlet takes role {:?}, not `{code}`", f.code, f.roles)));
            None
        }
        (Some(code), _) => Some(code.clone()),
        (None, Some(f)) => f.roles.first().cloned(),
        (None, None) => None,
    };
    if !policy.scoring.site_types.contains_key(&req.site_type) {
        let known: Vec<&String> = policy.scoring.site_types.keys().collect();
        errors.push(InputError::at("/site_type", format!("unknown site type `{}`; site types: {known:?}", req.site_type)));
    }
    let opened_on = match &req.opened_on {
        Some(s) => crate::input::parse_date(s, "/opened_on").map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    errors.extend(check_facility(&req.facility, "/facility"));
    match location {
        Some(location) if errors.is_empty() => Ok(Outlet {
            id: 0,
            network: network.to_string(),
            partner_id: req.partner_id,
            competitor: req.competitor,
            brand: req.brand.clone(),
            name: req.name.trim().to_string(),
            location,
            format: req.format.clone(),
            role,
            site_type: req.site_type.clone(),
            opened_on,
            status: OutletStatus::Open,
            closed_on: None,
            close_reason: None,
            facility: req.facility,
            note: req.note.clone().unwrap_or_default(),
            external_id: req.external_id.as_ref().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()),
            created_at: String::new(),
            updated_at: String::new(),
        }),
        _ => Err(errors),
    }
}

/// Where an own outlet stands with respect to the grants in force on a day.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// Grants of the outlet's partner that cover the point (boundary included).
    pub own: Vec<Arc<Grant>>,
    /// Exclusive grants of other partners whose interior holds the point.
    pub foreign_exclusive: Vec<Arc<Grant>>,
}

impl Placement {
    /// Whether the outlet may stand there.
    pub fn ok(&self) -> bool {
        !self.own.is_empty() && self.foreign_exclusive.is_empty()
    }
}

/// Places a point of `partner_id` among the active grants of its network in force on `day`.
pub fn place(grants: Option<&NetworkGrants>, partner_id: i64, point: Point<f64>, day: NaiveDate) -> Placement {
    let mut placement = Placement::default();
    let Some(grants) = grants else { return placement };
    let c: Coord<f64> = point.into();
    for g in grants.at_point(c) {
        if !g.validity.contains(day) {
            continue;
        }
        let position = g.territory.shape.geometry.coordinate_position(&c);
        if g.partner_id == partner_id {
            if position != CoordPos::Outside {
                placement.own.push(g.clone());
            }
        } else if g.exclusive && position == CoordPos::Inside {
            placement.foreign_exclusive.push(g.clone());
        }
    }
    placement.own.sort_by_key(|g| g.id);
    placement.foreign_exclusive.sort_by_key(|g| g.id);
    placement
}

/// Outlet requests from an import file, each with where it came from.
pub type ImportRows = Vec<(ImportSource, Value)>;

/// Where an imported outlet came from, to locate its problems.
#[derive(Debug, Clone, Copy)]
pub enum ImportSource {
    /// The i-th feature of a GeoJSON FeatureCollection.
    Feature(usize),
    /// A CSV line (1-based, the header is line 1).
    Line(usize),
}

impl ImportSource {
    /// The row in words: `feature 3`, `line 4`.
    pub fn describe(self) -> String {
        match self {
            ImportSource::Feature(i) => format!("feature {i}"),
            ImportSource::Line(n) => format!("line {n}"),
        }
    }

    /// Relocates a problem found in the request built from this row.
    pub fn locate(self, e: InputError) -> InputError {
        match self {
            ImportSource::Feature(i) => {
                let pointer = match e.pointer.strip_prefix("/location") {
                    Some(rest) => format!("/features/{i}/geometry{rest}"),
                    None => format!("/features/{i}/properties{}", e.pointer),
                };
                InputError::at(pointer, e.detail)
            }
            ImportSource::Line(n) => {
                let column = match e.pointer.trim_start_matches('/').split('/').next() {
                    Some("location") => "lon/lat",
                    Some("facility") => e.pointer.rsplit('/').next().unwrap_or("facility"),
                    Some(c) if !c.is_empty() => c,
                    _ => "",
                };
                let column = column.to_string();
                InputError::at(if column.is_empty() { format!("line {n}") } else { format!("line {n}, column {column}") }, e.detail)
            }
        }
    }
}

const FACILITY_KEYS: [&str; 13] = Facility::KEYS;

/// Outlet request bodies from a GeoJSON FeatureCollection of Points: properties are the
/// request's fields (facility figures either nested in `facility` or flat).
pub fn rows_from_geojson(collection: &Value) -> Result<ImportRows, Vec<InputError>> {
    let Some(features) = collection.get("features").and_then(Value::as_array) else {
        return Err(vec![InputError::at("/features", "a GeoJSON FeatureCollection is expected")]);
    };
    let mut rows = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let mut body = f.get("properties").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        let mut facility = body.get("facility").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        for key in FACILITY_KEYS {
            if let Some(v) = body.as_object_mut().and_then(|m| m.remove(key)) {
                facility[key] = v;
            }
        }
        body["facility"] = facility;
        body["location"] = f.get("geometry").cloned().unwrap_or(Value::Null);
        rows.push((ImportSource::Feature(i), body));
    }
    Ok(rows)
}

/// Outlet request bodies from CSV with a header: `name, lon, lat, site_type` and optionally
/// `partner_id, format, role, competitor, brand, opened_on, note` and facility figures.
pub fn rows_from_csv(text: &str) -> Result<ImportRows, Vec<InputError>> {
    let (mut reader, header) = crate::input::csv_reader(text.as_bytes()).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    for needed in ["name", "lon", "lat", "site_type"] {
        if !header.iter().any(|h| h == needed) {
            errors.push(InputError::at("line 1", format!("missing column `{needed}`")));
        }
    }
    let known = ["partner_id", "name", "lon", "lat", "format", "role", "site_type", "competitor", "brand", "opened_on", "note", "external_id"];
    for h in header.iter().filter(|h| !known.contains(h) && !FACILITY_KEYS.contains(h)) {
        errors.push(InputError::at("line 1", format!("unknown column `{h}`")));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for (line, record) in crate::input::csv_records(&mut reader) {
        let Ok(record) = record.map_err(|e| errors.push(e)) else { continue };
        let mut body = json!({"facility": {}});
        let (mut lon, mut lat) = (Value::Null, Value::Null);
        for (h, v) in header.iter().zip(record.iter()) {
            if v.is_empty() {
                continue;
            }
            let number = || v.parse::<f64>().ok().filter(|x| x.is_finite()).map_or(Value::String(v.to_string()), |x| json!(x));
            match h {
                "lon" => lon = number(),
                "lat" => lat = number(),
                "partner_id" => body[h] = v.parse::<i64>().map_or(Value::String(v.to_string()), |x| json!(x)),
                "competitor" => body[h] = matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes").into(),
                h if FACILITY_KEYS.contains(&h) => body["facility"][h] = number(),
                h => body[h] = Value::String(v.to_string()),
            }
        }
        body["location"] = json!({"type": "Point", "coordinates": [lon, lat]});
        rows.push((ImportSource::Line(line), body));
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}
