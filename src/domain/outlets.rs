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

/// Where an outlet stands in its life: the pipeline (`proposed → approved →
/// under_construction`), `open`, and its three ends (`closed` after opening, `rejected` or
/// `cancelled` before). Ended outlets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutletStatus {
    /// Proposed by its partner, awaiting approval.
    Proposed,
    /// Approved, not yet being built.
    Approved,
    /// Being built (or fitted out).
    UnderConstruction,
    /// Operating.
    Open,
    /// Closed after operating (kept as history).
    Closed,
    /// Refused while proposed (kept as history).
    Rejected,
    /// Given up before opening (kept as history).
    Cancelled,
}

impl OutletStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            OutletStatus::Proposed => "proposed",
            OutletStatus::Approved => "approved",
            OutletStatus::UnderConstruction => "under_construction",
            OutletStatus::Open => "open",
            OutletStatus::Closed => "closed",
            OutletStatus::Rejected => "rejected",
            OutletStatus::Cancelled => "cancelled",
        }
    }

    /// Every status, in the order of an outlet's life.
    pub const ALL: [OutletStatus; 7] = [
        OutletStatus::Proposed,
        OutletStatus::Approved,
        OutletStatus::UnderConstruction,
        OutletStatus::Open,
        OutletStatus::Closed,
        OutletStatus::Rejected,
        OutletStatus::Cancelled,
    ];

    /// The status of this stored text.
    pub fn parse(text: &str) -> Option<OutletStatus> {
        OutletStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether it is a stage before opening (proposed, approved, under construction).
    pub fn in_pipeline(self) -> bool {
        matches!(self, OutletStatus::Proposed | OutletStatus::Approved | OutletStatus::UnderConstruction)
    }

    /// Whether the outlet's life is over (closed, rejected, cancelled).
    pub fn ended(self) -> bool {
        matches!(self, OutletStatus::Closed | OutletStatus::Rejected | OutletStatus::Cancelled)
    }

    /// The stages it may move to next (closing goes through its own request, with its
    /// consequences).
    pub fn next(self) -> &'static [OutletStatus] {
        use OutletStatus::*;
        match self {
            Proposed => &[Approved, Rejected, Cancelled],
            Approved => &[UnderConstruction, Open, Cancelled],
            UnderConstruction => &[Open, Cancelled],
            Open => &[Closed],
            Closed | Rejected | Cancelled => &[],
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
    /// Where it stands: `open` (the default), or a stage of the pipeline (`proposed`,
    /// `approved`, `under_construction`) for an outlet not open yet.
    #[serde(default)]
    pub status: Option<OutletStatus>,
    /// The day it was proposed (ISO 8601); default today for a proposed outlet.
    #[serde(default)]
    pub proposed_on: Option<String>,
    /// The day it was approved; default today for an approved outlet.
    #[serde(default)]
    pub approved_on: Option<String>,
    /// The day building started; default today for an outlet under construction.
    #[serde(default)]
    pub construction_started_on: Option<String>,
    /// The opening planned, for an outlet in the pipeline: it must stand in its partner's
    /// territory on that day.
    #[serde(default)]
    pub planned_open_on: Option<String>,
    /// Opening date (ISO 8601), today or earlier: an outlet opening later is in the pipeline.
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
    /// Where it stands now.
    pub status: OutletStatus,
    /// The day it was proposed (none: not through the pipeline, or not known).
    pub proposed_on: Option<NaiveDate>,
    /// The day it was approved.
    pub approved_on: Option<NaiveDate>,
    /// The day building started.
    pub construction_started_on: Option<NaiveDate>,
    /// The opening planned while in the pipeline.
    pub planned_open_on: Option<NaiveDate>,
    /// Opening date (none on an open outlet: open since before the records).
    pub opened_on: Option<NaiveDate>,
    /// The day it closed, or was rejected or cancelled.
    pub closed_on: Option<NaiveDate>,
    /// Why it closed (or was rejected or cancelled).
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
    /// The stages the outlet has reached, in order, each with its day (`None`: reached
    /// before the records, e.g. an outlet open with no opening date).
    fn stages(&self) -> Vec<(OutletStatus, Option<NaiveDate>)> {
        use OutletStatus::*;
        let mut reached: Vec<(OutletStatus, Option<NaiveDate>)> =
            [(Proposed, self.proposed_on), (Approved, self.approved_on), (UnderConstruction, self.construction_started_on)]
                .into_iter()
                .filter(|(stage, day)| day.is_some() || *stage == self.status)
                .collect();
        if matches!(self.status, Open | Closed) {
            reached.push((Open, self.opened_on));
        }
        if self.status.ended() {
            reached.push((self.status, self.closed_on));
        }
        reached
    }

    /// Where the outlet stood on `day`: the last stage reached by then, or `None` if it was
    /// not yet proposed (or opened, for one recorded only when open).
    pub fn status_on(&self, day: NaiveDate) -> Option<OutletStatus> {
        self.stages().into_iter().take_while(|(_, since)| since.is_none_or(|d| d <= day)).last().map(|(stage, _)| stage)
    }

    /// Whether the outlet is open on `day`: opened by then (or with no opening day), and not
    /// closed by then.
    pub fn open_on(&self, day: NaiveDate) -> bool {
        self.status_on(day) == Some(OutletStatus::Open)
    }

    /// Whether the outlet is open at some time between `first` and `last` (inclusive).
    pub fn open_during(&self, first: NaiveDate, last: NaiveDate) -> bool {
        // With no opening day, it opened after its last known stage.
        let since = self.opened_on.or(self.construction_started_on).or(self.approved_on).or(self.proposed_on);
        let opened = matches!(self.status, OutletStatus::Open | OutletStatus::Closed) && since.is_none_or(|d| d <= last);
        // A closed outlet with no closing day has been closed for as long as the records say.
        opened && (self.status == OutletStatus::Open || self.closed_on.is_some_and(|d| d > first))
    }

    /// Whether the outlet is in the network as planned at some time between `first` and
    /// `last`: open then, or, for a period reaching past `today`, in the pipeline now with
    /// its opening planned by `last`.
    pub fn planned_during(&self, first: NaiveDate, last: NaiveDate, today: NaiveDate) -> bool {
        self.open_during(first, last) || (last > today && self.status.in_pipeline() && self.planned_open_on.is_some_and(|d| d <= last))
    }

    /// Whether the outlet counts on `day` as the network planned it: open by then, or,
    /// for a later day than `today`, in the pipeline now with its opening planned by then.
    pub fn planned_open_on(&self, day: NaiveDate, today: NaiveDate) -> bool {
        self.planned_during(day, day, today)
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
                "role": self.role, "site_type": self.site_type, "status": self.status, "proposed_on": self.proposed_on,
                "approved_on": self.approved_on, "construction_started_on": self.construction_started_on,
                "planned_open_on": self.planned_open_on, "opened_on": self.opened_on, "closed_on": self.closed_on, "close_reason": self.close_reason, "facility": self.facility,
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
            status: Some(self.status),
            proposed_on: self.proposed_on.map(|d| d.to_string()),
            approved_on: self.approved_on.map(|d| d.to_string()),
            construction_started_on: self.construction_started_on.map(|d| d.to_string()),
            planned_open_on: self.planned_open_on.map(|d| d.to_string()),
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

/// The stage dates of a request, checked: each parsed, none after `today` (but the
/// planned opening), none for a stage not reached, in the order of the stages; the day of
/// the stage the outlet is in defaults to today (but an opening: none is "open since
/// before the records").
#[derive(Debug, Clone, Copy, Default)]
struct StageDates {
    proposed_on: Option<NaiveDate>,
    approved_on: Option<NaiveDate>,
    construction_started_on: Option<NaiveDate>,
    planned_open_on: Option<NaiveDate>,
    opened_on: Option<NaiveDate>,
}

fn stage_dates(req: &OutletRequest, status: OutletStatus, today: NaiveDate, errors: &mut Vec<InputError>) -> StageDates {
    use OutletStatus::*;
    let mut parse =
        |text: &Option<String>, field: &str| text.as_deref().and_then(|s| crate::input::parse_date(s, &format!("/{field}")).map_err(|e| errors.push(e)).ok());
    let mut dates = StageDates {
        proposed_on: parse(&req.proposed_on, "proposed_on"),
        approved_on: parse(&req.approved_on, "approved_on"),
        construction_started_on: parse(&req.construction_started_on, "construction_started_on"),
        planned_open_on: parse(&req.planned_open_on, "planned_open_on"),
        opened_on: parse(&req.opened_on, "opened_on"),
    };
    if !matches!(status, Proposed | Approved | UnderConstruction | Open) {
        errors.push(InputError::at("/status", format!("a new outlet is proposed, approved, under_construction or open, not `{}`", status.as_str())));
        return dates;
    }
    let steps = [
        (Proposed, "proposed_on", &mut dates.proposed_on),
        (Approved, "approved_on", &mut dates.approved_on),
        (UnderConstruction, "construction_started_on", &mut dates.construction_started_on),
        (Open, "opened_on", &mut dates.opened_on),
    ];
    let mut last: Option<(&str, NaiveDate)> = None;
    for (stage, field, day) in steps {
        if stage > status {
            if day.is_some() {
                errors.push(InputError::at(format!("/{field}"), format!("an outlet that is `{}` has no {field} yet", status.as_str())));
            }
            continue;
        }
        if stage == status && stage != Open {
            day.get_or_insert(today);
        }
        let Some(d) = *day else { continue };
        if d > today {
            let hint = if stage == Open {
                ": an outlet opening later is in the pipeline (`status`: `proposed`, `approved` or `under_construction`, with `planned_open_on`)"
            } else {
                ""
            };
            errors.push(InputError::at(format!("/{field}"), format!("{d} is after today ({today}){hint}")));
        }
        if let Some((before, b)) = last
            && d < b
        {
            errors.push(InputError::at(format!("/{field}"), format!("{d} is before {before} {b}")));
        }
        last = Some((field, d));
    }
    match (dates.planned_open_on, status.in_pipeline(), last) {
        (Some(_), false, _) => errors.push(InputError::at("/planned_open_on", "only an outlet in the pipeline has a planned opening")),
        (Some(p), true, Some((field, d))) if p < d => errors.push(InputError::at("/planned_open_on", format!("{p} is before {field} {d}"))),
        _ => {}
    }
    dates
}

/// Checks an outlet request against the network's policy and standard: format, role,
/// site type, partner presence, stage and dates (`today` is the last day a stage may have
/// been reached on) and figures. `partner_known` says whether the named partner exists in
/// the network. Returns the outlet (id 0) or every problem.
pub fn validate(network: &str, req: &OutletRequest, policy: &Policy, partner_known: bool, sys: CoordSys, today: NaiveDate) -> Result<Outlet, Vec<InputError>> {
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
    let status = req.status.unwrap_or(OutletStatus::Open);
    let dates = stage_dates(req, status, today, &mut errors);
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
            status,
            proposed_on: dates.proposed_on,
            approved_on: dates.approved_on,
            construction_started_on: dates.construction_started_on,
            planned_open_on: dates.planned_open_on,
            opened_on: dates.opened_on,
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

/// Why a stage move is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum MoveRefused {
    /// The outlet's stage does not lead there (409).
    State(String),
    /// The request is wrong (422, located).
    Invalid(InputError),
}

/// The outlet moved to stage `to` on `on` (today or earlier, not before the stage it
/// leaves). `planned_open_on` replaces the planned opening of an outlet staying in the
/// pipeline; `reason` is kept for a rejection or a cancellation (and required there).
pub fn move_to(
    o: &Outlet,
    to: OutletStatus,
    on: NaiveDate,
    today: NaiveDate,
    planned_open_on: Option<NaiveDate>,
    reason: Option<&str>,
) -> Result<Outlet, MoveRefused> {
    use OutletStatus::*;
    let from = o.status;
    if to == Closed && from == Open {
        return Err(MoveRefused::State(format!("outlet {} is open: close it with POST .../outlets/{}/close (which shows what closing breaks)", o.id, o.id)));
    }
    if !from.next().contains(&to) {
        let next: Vec<&str> = from.next().iter().map(|s| s.as_str()).collect();
        let options = if next.is_empty() { "nothing: its life is over".to_string() } else { next.join(", ") };
        return Err(MoveRefused::State(format!("outlet {} is `{}`: it moves to {options}, not `{}`", o.id, from.as_str(), to.as_str())));
    }
    if on > today {
        return Err(MoveRefused::Invalid(InputError::at("/on", format!("{on} is after today ({today}): a move is recorded when it has happened"))));
    }
    if let Some((stage, since)) = o.stages().into_iter().rev().find_map(|(stage, day)| day.map(|d| (stage, d)))
        && on < since
    {
        return Err(MoveRefused::Invalid(InputError::at("/on", format!("{on} is before the outlet became `{}` on {since}", stage.as_str()))));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if matches!(to, Rejected | Cancelled) && reason.is_none() {
        return Err(MoveRefused::Invalid(InputError::at("/reason", format!("say why the outlet is {}", to.as_str()))));
    }
    if planned_open_on.is_some() && !to.in_pipeline() {
        return Err(MoveRefused::Invalid(InputError::at("/planned_open_on", format!("an outlet that is `{}` has no planned opening", to.as_str()))));
    }
    if let Some(p) = planned_open_on
        && p < on
    {
        return Err(MoveRefused::Invalid(InputError::at("/planned_open_on", format!("{p} is before the move ({on})"))));
    }
    let mut moved = o.clone();
    moved.status = to;
    match to {
        Approved => moved.approved_on = Some(on),
        UnderConstruction => moved.construction_started_on = Some(on),
        Open => moved.opened_on = Some(on),
        Rejected | Cancelled => (moved.closed_on, moved.close_reason) = (Some(on), reason.map(str::to_string)),
        Proposed | Closed => {}
    }
    if let Some(p) = planned_open_on {
        moved.planned_open_on = Some(p);
    }
    Ok(moved)
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

/// Places a point of `partner_id` among the grants of its network in force on `day` that
/// hold `today` (active, or reserved until today or later).
pub fn place(grants: Option<&NetworkGrants>, partner_id: i64, point: Point<f64>, day: NaiveDate, today: NaiveDate) -> Placement {
    let mut placement = Placement::default();
    let Some(grants) = grants else { return placement };
    let c: Coord<f64> = point.into();
    for g in grants.at_point(c) {
        if !g.validity.contains(day) || !g.holds(today) {
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
    let known = [
        "partner_id",
        "name",
        "lon",
        "lat",
        "format",
        "role",
        "site_type",
        "competitor",
        "brand",
        "status",
        "proposed_on",
        "approved_on",
        "construction_started_on",
        "planned_open_on",
        "opened_on",
        "note",
        "external_id",
    ];
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
