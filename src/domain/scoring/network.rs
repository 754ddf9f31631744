//! Scoring on a network: its demand grid, its outlets as the scenario, its standard's
//! formats, and the partner's territory for each candidate.

use super::ModelRef;
use super::ScoringParams;
use super::model::{Scenario, Site};
use super::plan::{ExistingSite, Plan};
use super::score::{Candidate, CandidateScore, FormatModel, Scorer};
use crate::domain::access::Viewer;
use crate::domain::exclusivity::NetworkGrants;
use crate::domain::grants::{GrantRef, SeenGrantRef};
use crate::domain::network::Partner;
use crate::domain::outlets::{Outlet, OutletStatus, parse_point, place};
use crate::domain::policy::Policy;
use crate::geometry::CoordSys;
use crate::input::{InputError, MAX_CODE_CHARS, too_long};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// A candidate as sent to `POST /score` and `/plan`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidateInput {
    /// Caller's id (a string or a number).
    #[schema(value_type = String)]
    pub id: Value,
    /// GeoJSON Point.
    #[schema(value_type = Object)]
    pub location: Value,
    /// Site type; omitted: scored as each of the policy's `compare_site_types`.
    #[serde(default)]
    pub site_type: Option<String>,
    /// Format; omitted: the default showroom and a format recommendation.
    #[serde(default)]
    pub format: Option<String>,
}

/// The formats of the network's standard as the model sees them.
pub fn format_models(policy: &Policy) -> Vec<FormatModel> {
    let standard = policy.standard();
    standard
        .formats
        .iter()
        .map(|f| FormatModel {
            code: f.code.clone(),
            showroom_m2: f.minima.showroom_m2,
            min_sales: f.annual_sales.min,
            sells: f.roles.iter().any(|r| standard.role(r).is_some_and(|r| r.sells)),
        })
        .collect()
}

/// The scorer of a network under the model parameters in force, for a partner (its tier's
/// formats) or for none (all formats).
pub fn scorer<'p>(policy: &'p Policy, params: &'p ScoringParams, partner: Option<&Partner>) -> Scorer<'p> {
    let standard = policy.standard();
    let tier_formats = match partner {
        Some(p) => standard.formats_for_tier(&p.tier).to_vec(),
        None => standard.formats.iter().map(|f| f.code.clone()).collect(),
    };
    Scorer { params, money: &policy.money, formats: format_models(policy), tier_formats }
}

/// Which outlets a score or plan competes with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkView {
    /// The outlets open today.
    #[default]
    Open,
    /// The outlets open today and those in the pipeline (proposed, approved, under
    /// construction), as if open.
    Planned,
}

impl NetworkView {
    /// The outlets of the view, those counted as open with status `open` (every outlet is
    /// kept: closed and ended ones do not sell).
    pub fn outlets(self, outlets: Vec<Outlet>) -> Vec<Outlet> {
        match self {
            NetworkView::Open => outlets,
            NetworkView::Planned => outlets
                .into_iter()
                .map(|mut o| {
                    if o.status.in_pipeline() {
                        o.status = OutletStatus::Open;
                    }
                    o
                })
                .collect(),
        }
    }
}

/// The model site of an outlet, if it sells (own outlets whose role sells, and every
/// competitor's outlet).
pub fn outlet_site(policy: &Policy, params: &ScoringParams, o: &Outlet) -> Option<Site> {
    if o.status != OutletStatus::Open {
        return None;
    }
    let standard = policy.standard();
    let sells = o.competitor || o.role.as_deref().and_then(|r| standard.role(r)).is_some_and(|r| r.sells);
    if !sells {
        return None;
    }
    let st = params.site_types.get(&o.site_type)?;
    Some(Site::new(params, o.location.x(), o.location.y(), st, showroom(policy, params, o.format.as_deref())))
}

/// The network's own open sales outlets, as the sites a plan's spacing keeps away from.
pub fn existing_sites(policy: &Policy, params: &ScoringParams, outlets: &[Outlet]) -> Vec<ExistingSite> {
    outlets
        .iter()
        .filter(|o| !o.competitor && outlet_site(policy, params, o).is_some())
        .map(|o| ExistingSite { outlet_id: o.id, at: crate::domain::demand::unit_vector(o.location.x(), o.location.y()) })
        .collect()
}

/// Showroom area of a format (the default where it gives none), m².
pub fn showroom(policy: &Policy, params: &ScoringParams, format: Option<&str>) -> f64 {
    format.and_then(|f| policy.standard().format(f)).and_then(|f| f.minima.showroom_m2).unwrap_or(params.default_showroom_m2)
}

/// Adds the network's selling outlets to an empty scenario.
pub fn add_outlets(scenario: &mut Scenario, policy: &Policy, params: &ScoringParams, outlets: &[Outlet]) {
    for o in outlets {
        if let Some(site) = outlet_site(policy, params, o) {
            scenario.add(&site, !o.competitor);
        }
    }
}

/// Expected annual sales of every selling own outlet under the scenario.
pub fn outlet_sales(scenario: &Scenario, policy: &Policy, params: &ScoringParams, outlets: &[Outlet]) -> HashMap<i64, f64> {
    outlets.iter().filter(|o| !o.competitor).filter_map(|o| outlet_site(policy, params, o).map(|s| (o.id, scenario.sales_of(&s)))).collect()
}

/// Validates candidates: ids, points (in `sys`), site types and formats; every problem
/// located under `/candidates/i`.
pub fn parse_candidates(inputs: &[CandidateInput], policy: &Policy, sys: CoordSys) -> Result<Vec<Candidate>, Vec<InputError>> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(inputs.len());
    let standard = policy.standard();
    if inputs.is_empty() {
        errors.push(InputError::at("/candidates", "give at least one candidate"));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, c) in inputs.iter().enumerate() {
        let at = |field: &str| format!("/candidates/{i}{field}");
        let id = match &c.id {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                errors.push(InputError::at(at("/id"), "an id is a string or a number"));
                String::new()
            }
        };
        if let Some(e) = too_long(&at("/id"), &id, MAX_CODE_CHARS) {
            errors.push(e);
            continue;
        }
        if let Some(first) = seen.insert(id.clone(), i) {
            errors.push(InputError::at(at("/id"), format!("id `{id}` is used by candidate {first} too")));
        }
        if let Some(st) = &c.site_type
            && !policy.scoring.site_types.contains_key(st)
        {
            let known: Vec<&String> = policy.scoring.site_types.keys().collect();
            errors.push(InputError::at(at("/site_type"), format!("unknown site type `{st}`; site types: {known:?}")));
        }
        if let Some(f) = &c.format
            && standard.format(f).is_none()
        {
            errors.push(InputError::at(at("/format"), format!("unknown format `{f}`; formats: {:?}", standard.format_codes())));
        }
        match parse_point(&c.location, &at("/location"), sys) {
            Ok(p) => out.push(Candidate { id, lon: p.x(), lat: p.y(), site_type: c.site_type.clone(), format: c.format.clone() }),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Where a candidate stands with respect to the partner's territory.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TerritoryCheck {
    /// Whether an active grant of the partner holds the site (`None` without a partner).
    pub in_territory: Option<bool>,
    /// Whether the partner may open there: inside its territory and not inside another
    /// partner's exclusive grant (without a partner: not inside any exclusive grant).
    pub allowed: bool,
    /// The exclusive grants of other partners holding the site, as the viewer may see them.
    #[schema(value_type = Vec<GrantRef>)]
    pub blocking_grants: Vec<SeenGrantRef>,
}

/// Checks a candidate site (WGS84 `[lon, lat]`) against the grants in force today; the
/// blocking grants as `viewer` may see them.
pub fn territory_check(grants: Option<&NetworkGrants>, partner: Option<&Partner>, viewer: Viewer, [lon, lat]: [f64; 2]) -> TerritoryCheck {
    let today = chrono::Utc::now().date_naive();
    let point = geo::Point::new(lon, lat);
    let placement = place(grants, partner.map_or(-1, |p| p.id), point, today, today);
    let blocking_grants: Vec<SeenGrantRef> = placement.foreign_exclusive.iter().map(|g| viewer.grant_ref(GrantRef::from(g.as_ref()))).collect();
    let in_territory = partner.map(|_| !placement.own.is_empty());
    TerritoryCheck { allowed: blocking_grants.is_empty() && in_territory != Some(false), in_territory, blocking_grants }
}

/// A scored candidate with its territory check.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoredCandidate {
    /// The model's figures.
    #[serde(flatten)]
    pub score: CandidateScore,
    /// The territory check.
    #[serde(flatten)]
    pub territory: TerritoryCheck,
}

/// The answer of `POST /score`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoreAnswer {
    /// Network code.
    pub network: String,
    /// The partner scored for.
    pub partner_id: Option<i64>,
    /// Sum of the own outlets' expected sales before any candidate.
    pub network_total: f64,
    /// One result per candidate, in input order.
    pub candidates: Vec<ScoredCandidate>,
    /// The model version the scores used.
    pub model: ModelRef,
    /// The outlets scored against: `open` or `planned` (with the pipeline).
    pub against: NetworkView,
}

/// The answer of `POST /plan`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlanAnswer {
    /// Network code.
    pub network: String,
    /// The partner planned for.
    pub partner_id: Option<i64>,
    /// The greedy choice.
    #[serde(flatten)]
    pub plan: Plan,
    /// Candidates left out because they stand outside the partner's territory (when the
    /// plan is restricted to it), with why.
    pub excluded: Vec<ExcludedCandidate>,
    /// The model version the plan used.
    pub model: ModelRef,
    /// The outlets planned against: `open` or `planned` (with the pipeline).
    pub against: NetworkView,
}

/// A candidate a restricted plan leaves out.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExcludedCandidate {
    /// Its id.
    pub id: String,
    /// Why.
    #[serde(flatten)]
    pub territory: TerritoryCheck,
}

/// The candidate of the `index`-th feature of a GeoJSON FeatureCollection of Points
/// (properties `id`, `site_type`, `format`; the feature's `id` or its index when the
/// properties have none).
pub fn candidate_from_feature(index: usize, feature: &Value) -> Result<CandidateInput, Vec<InputError>> {
    let props = feature.get("properties").unwrap_or(&Value::Null);
    let text = |k: &str| props.get(k).and_then(Value::as_str).map(String::from);
    let errors: Vec<InputError> = ["site_type", "format"]
        .into_iter()
        .filter(|key| props.get(key).is_some_and(|v| !v.is_null() && !v.is_string()))
        .map(|key| InputError::at(format!("/features/{index}/properties/{key}"), "must be a string"))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let id = props.get("id").or_else(|| feature.get("id")).cloned().unwrap_or_else(|| Value::from(index));
    Ok(CandidateInput { id, location: feature.get("geometry").cloned().unwrap_or(Value::Null), site_type: text("site_type"), format: text("format") })
}

/// Candidates from CSV with a header `id,lon,lat` and optionally `site_type,format`.
pub fn candidates_from_csv(text: &str) -> Result<Vec<CandidateInput>, Vec<InputError>> {
    let (mut reader, header) = crate::input::csv_reader(text.as_bytes()).map_err(|e| vec![e])?;
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(id), Some(lon), Some(lat)) = (col("id"), col("lon"), col("lat")) else {
        return Err(vec![InputError::at("line 1", "the header must name columns `id`, `lon` and `lat` (optional: `site_type`, `format`)")]);
    };
    let (st, fmt) = (col("site_type"), col("format"));
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (line, r) in crate::input::csv_records(&mut reader) {
        let Ok(r) = r.map_err(|e| errors.push(e)) else { continue };
        let get = |c: Option<usize>| c.and_then(|c| r.get(c)).filter(|v| !v.is_empty()).map(String::from);
        let number = |c: usize, name: &str, errors: &mut Vec<InputError>| {
            let raw = r.get(c).unwrap_or("");
            raw.parse::<f64>().ok().filter(|v| v.is_finite()).map(Value::from).unwrap_or_else(|| {
                errors.push(InputError::at(format!("line {line}, column {name}"), format!("`{raw}` is not a number")));
                Value::Null
            })
        };
        let (x, y) = (number(lon, "lon", &mut errors), number(lat, "lat", &mut errors));
        out.push(CandidateInput {
            id: Value::from(r.get(id).unwrap_or("").to_string()),
            location: serde_json::json!({"type": "Point", "coordinates": [x, y]}),
            site_type: get(st),
            format: get(fmt),
        });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Scored candidates as a GeoJSON FeatureCollection of Points (for QGIS): each score's
/// fields as properties (site-type comparisons and format trials as JSON text). Written
/// one feature at a time, never as a whole tree of values.
pub struct ScoreGeoJson(pub ScoreAnswer);

impl Serialize for ScoreGeoJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        /// The features, each made as it is written.
        struct Features<'a>(&'a [ScoredCandidate]);
        impl Serialize for Features<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(scored_feature))
            }
        }
        let answer = &self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("type", "FeatureCollection")?;
        map.serialize_entry("network", &answer.network)?;
        map.serialize_entry("partner_id", &answer.partner_id)?;
        map.serialize_entry("network_total", &answer.network_total)?;
        map.serialize_entry("against", &answer.against)?;
        map.serialize_entry("features", &Features(&answer.candidates))?;
        map.end()
    }
}

/// One scored candidate as a GeoJSON Feature.
fn scored_feature(c: &ScoredCandidate) -> Value {
    let mut props = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut props {
        m.remove("location");
        for key in ["by_site_type", "format_trials", "blocking_grants"] {
            if let Some(v) = m.get_mut(key)
                && !v.is_null()
            {
                *v = Value::String(v.to_string());
            }
        }
    }
    serde_json::json!({"type": "Feature", "id": c.score.id, "geometry": {"type": "Point", "coordinates": c.score.location}, "properties": props})
}
