//! Grants: territories granted to partners, and what a conflict between two of them is.

use crate::geometry::{OverlapGeometry, Shape};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Whether a grant is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Held for its partner while an application is decided, until its `reserved_until`
    /// day: exclusive like an active grant until then, nothing after.
    Reserved,
    /// In force (within its validity window).
    Active,
    /// Revoked; kept as history, never conflicts.
    Revoked,
}

impl Status {
    /// The code used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Reserved => "reserved",
            Status::Active => "active",
            Status::Revoked => "revoked",
        }
    }

    /// The status of this stored text.
    pub fn parse(text: &str) -> Option<Status> {
        [Status::Reserved, Status::Active, Status::Revoked].into_iter().find(|s| s.as_str() == text)
    }
}

/// The area of a grant or proposal, with what is needed to compare it quickly.
#[derive(Debug, Clone)]
pub struct Territory {
    /// The adcodes, for a territory named by regions (the hierarchy decides overlaps
    /// with other territories named by regions); `None` for a drawn territory.
    pub adcodes: Option<Vec<String>>,
    /// The area (union of the regions, or the drawn polygon), prepared for comparison.
    pub shape: Shape,
}

impl Territory {
    /// A territory of this area.
    pub fn new(adcodes: Option<Vec<String>>, shape: Shape) -> Territory {
        Territory { adcodes, shape }
    }
}

/// A validity window: from a date, until a date (inclusive) or open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force; `None`: open-ended.
    pub to: Option<NaiveDate>,
}

impl Validity {
    /// Whether two windows share at least one day.
    pub fn overlaps(&self, other: &Validity) -> bool {
        let starts_before_other_ends = other.to.is_none_or(|to| self.from <= to);
        let other_starts_before_end = self.to.is_none_or(|to| other.from <= to);
        starts_before_other_ends && other_starts_before_end
    }

    /// Whether the window includes this day.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|to| day <= to)
    }
}

/// A stored grant.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Id, stable.
    pub id: i64,
    /// Network code.
    pub network: String,
    /// Holder.
    pub partner_id: i64,
    /// Holder's name (partners are never renamed).
    pub partner_name: String,
    /// Holder's tier.
    pub tier: String,
    /// The territory.
    pub territory: Territory,
    /// Exclusive or not.
    pub exclusive: bool,
    /// Validity window.
    pub validity: Validity,
    /// Reserved, active or revoked.
    pub status: Status,
    /// The last day a reservation holds (kept once confirmed).
    pub reserved_until: Option<NaiveDate>,
    /// Free text.
    pub note: String,
    /// When it was granted (RFC 3339).
    pub created_at: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
}

impl Grant {
    /// Whether the grant holds its territory now (`today`): active, or reserved until
    /// today or later. An expired reservation holds nothing, whether or not anything was
    /// written since it expired.
    pub fn holds(&self, today: NaiveDate) -> bool {
        match self.status {
            Status::Active => true,
            Status::Reserved => self.reserved_until.is_some_and(|d| today <= d),
            Status::Revoked => false,
        }
    }
}

/// A proposed grant, validated, before the decision.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// Network code.
    pub network: String,
    /// Would-be holder.
    pub partner_id: i64,
    /// Its name.
    pub partner_name: String,
    /// Its tier.
    pub tier: String,
    /// The territory.
    pub territory: Territory,
    /// Exclusive or not (resolved from the tier).
    pub exclusive: bool,
    /// Validity window.
    pub validity: Validity,
    /// For a reservation: the last day it holds.
    pub reserved_until: Option<NaiveDate>,
    /// Free text.
    pub note: String,
}

/// How an overlap was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Both territories are named by regions: the administrative hierarchy decides.
    Hierarchy,
    /// At least one territory is drawn: the geometry decides, with the sliver tolerance.
    Geometry,
}

/// One conflicting (or, below the sliver tolerance, warning) grant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictEntry {
    /// The other grant.
    pub grant_id: i64,
    /// Its holder.
    pub partner_id: i64,
    /// Its holder's name.
    pub partner_name: String,
    /// Whether the other grant is exclusive.
    pub exclusive: bool,
    /// Its validity window.
    pub valid_from: NaiveDate,
    /// Its validity window's end, if any.
    pub valid_to: Option<NaiveDate>,
    /// Geodesic overlap area, km².
    pub overlap_km2: f64,
    /// Overlap area / area of the smaller of the two territories.
    pub overlap_ratio: f64,
    /// How the overlap was established.
    pub basis: Basis,
    /// For a hierarchy overlap: the adcodes that both territories cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adcodes: Option<Vec<String>>,
    /// The overlap, a GeoJSON MultiPolygon.
    #[schema(value_type = Object)]
    pub geometry: OverlapGeometry,
}

/// A grant named in an outlet refusal or a compliance breach.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantRef {
    /// Grant id.
    pub grant_id: i64,
    /// Holder.
    pub partner_id: i64,
    /// Holder's name.
    pub partner_name: String,
    /// Exclusive or not.
    pub exclusive: bool,
    /// First day in force.
    pub valid_from: NaiveDate,
    /// Last day in force.
    pub valid_to: Option<NaiveDate>,
    /// The regions of a grant by adcode.
    pub adcodes: Option<Vec<String>>,
}

impl From<&Grant> for GrantRef {
    fn from(g: &Grant) -> GrantRef {
        GrantRef {
            grant_id: g.id,
            partner_id: g.partner_id,
            partner_name: g.partner_name.clone(),
            exclusive: g.exclusive,
            valid_from: g.validity.from,
            valid_to: g.validity.to,
            adcodes: g.territory.adcodes.clone(),
        }
    }
}

/// A record as a viewer may see it ([`crate::domain::access::Viewer`]): whole, or, for
/// another partner's record seen by a partner token, only what the territory rule needs.
/// Serialised as the one or the other.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Seen<W, A> {
    /// The record as stored.
    Whole(W),
    /// Without its holder, its name or its id.
    Anonymous(A),
}

/// A conflict with another partner's grant, as a partner token sees it: the overlap and
/// the other grant's terms, not whose it is.
#[derive(Debug, Clone, Serialize)]
pub struct AnonymousConflict {
    /// Always true: the holder is not named.
    pub anonymous: bool,
    /// Whether the other grant is exclusive.
    pub exclusive: bool,
    /// Its validity window.
    pub valid_from: NaiveDate,
    /// Its validity window's end, if any.
    pub valid_to: Option<NaiveDate>,
    /// Geodesic overlap area, km².
    pub overlap_km2: f64,
    /// Overlap area / area of the smaller of the two territories.
    pub overlap_ratio: f64,
    /// How the overlap was established.
    pub basis: Basis,
    /// For a hierarchy overlap: the adcodes that both territories cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adcodes: Option<Vec<String>>,
    /// The overlap, a GeoJSON MultiPolygon.
    pub geometry: OverlapGeometry,
}

impl From<ConflictEntry> for AnonymousConflict {
    fn from(e: ConflictEntry) -> AnonymousConflict {
        AnonymousConflict {
            anonymous: true,
            exclusive: e.exclusive,
            valid_from: e.valid_from,
            valid_to: e.valid_to,
            overlap_km2: e.overlap_km2,
            overlap_ratio: e.overlap_ratio,
            basis: e.basis,
            adcodes: e.adcodes,
            geometry: e.geometry,
        }
    }
}

/// Another partner's grant named in a refusal or a breach, as a partner token sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AnonymousGrantRef {
    /// Always true: the holder is not named.
    pub anonymous: bool,
    /// Exclusive or not.
    pub exclusive: bool,
    /// First day in force.
    pub valid_from: NaiveDate,
    /// Last day in force.
    pub valid_to: Option<NaiveDate>,
    /// The regions of a grant by adcode.
    pub adcodes: Option<Vec<String>>,
}

impl From<GrantRef> for AnonymousGrantRef {
    fn from(g: GrantRef) -> AnonymousGrantRef {
        AnonymousGrantRef { anonymous: true, exclusive: g.exclusive, valid_from: g.valid_from, valid_to: g.valid_to, adcodes: g.adcodes }
    }
}

/// A conflict as its viewer sees it.
pub type SeenConflict = Seen<ConflictEntry, AnonymousConflict>;

/// A grant reference as its viewer sees it.
pub type SeenGrantRef = Seen<GrantRef, AnonymousGrantRef>;

/// The answer to "may this be granted?".
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Decision {
    /// Every grant the proposal would break exclusivity with.
    pub conflicts: Vec<ConflictEntry>,
    /// Overlaps below the sliver tolerance.
    pub warnings: Vec<ConflictEntry>,
    /// The proposing partner's own grants that already hold part of the territory for
    /// some of the same days: granting it again would hold it twice.
    pub duplicates: Vec<ConflictEntry>,
}

impl Proposal {
    /// The grant this proposal becomes once stored with `id` at `created_at`.
    pub fn into_grant(self, id: i64, created_at: String) -> Grant {
        let mut territory = self.territory;
        territory.shape.forget_latitudes(); // kept for the checks of a drawn area, not for a stored one
        Grant {
            id,
            network: self.network,
            partner_id: self.partner_id,
            partner_name: self.partner_name,
            tier: self.tier,
            territory,
            exclusive: self.exclusive,
            validity: self.validity,
            status: if self.reserved_until.is_some() { Status::Reserved } else { Status::Active },
            reserved_until: self.reserved_until,
            note: self.note,
            created_at,
            revoked_at: None,
            revoke_reason: None,
        }
    }
}

impl Decision {
    /// Whether the proposal may be granted.
    pub fn ok(&self) -> bool {
        self.conflicts.is_empty() && self.duplicates.is_empty()
    }
}

/// How terminating a partner on `last_day` changes its grants that hold now: a grant
/// starting after that day is revoked (`None`), one lasting beyond it ends on it
/// (`Some(new window)`); grants ending by then are left alone.
pub fn ended_on(grants: &[&Grant], last_day: NaiveDate) -> Vec<(i64, Option<Validity>)> {
    grants
        .iter()
        .filter(|g| g.status != Status::Revoked)
        .filter_map(|g| {
            if g.validity.from > last_day {
                Some((g.id, None))
            } else if g.validity.to.is_none_or(|to| to > last_day) {
                Some((g.id, Some(Validity { from: g.validity.from, to: Some(last_day) })))
            } else {
                None
            }
        })
        .collect()
}
