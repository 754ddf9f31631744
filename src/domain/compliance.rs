//! Compliance: a network checked against its format standard. Every breach names the
//! rule, the outlet or grant, the figure found and the figure required; a summary per
//! partner counts outlets by format, role and site type (the mall vs auto-city mix
//! planners track, by year of opening).

use crate::domain::access::Viewer;
use crate::domain::exclusivity::NetworkGrants;
use crate::domain::grants::{ConflictEntry, GrantRef, SeenGrantRef};
use crate::domain::network::Partner;
use crate::domain::outlets::{Outlet, place};
use crate::domain::policy::Policy;
use crate::domain::regions::{Level, RegionSet};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The rules of the standard a network can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The outlet's format is not one the partner's tier may open.
    FormatNotAllowedForTier,
    /// A city showroom or quick service without a flagship or elite store of the
    /// partner in its city.
    MissingAnchorStore,
    /// A facility figure below the format's minimum.
    FacilityBelowMinimum,
    /// A facility figure the format sets a minimum for is not recorded: a data gap (in
    /// [`Report::data_gaps`]), neither a breach nor a pass.
    FacilityMissing,
    /// An own outlet outside every grant of its partner in force (e.g. after a revoke).
    OutsideTerritory,
    /// An own outlet inside another partner's exclusive grant.
    InsideOtherExclusiveTerritory,
    /// Two stored grants break exclusivity (possible after bulk imports).
    ExclusiveOverlap,
    /// The outlet's expected annual sales (scoring model) lie outside its format's range.
    SalesOutsideRange,
}

/// One breach of the standard.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Breach {
    /// The rule broken.
    pub rule: Rule,
    /// The outlet concerned.
    pub outlet_id: Option<i64>,
    /// The outlet's name.
    pub outlet_name: Option<String>,
    /// The grant concerned.
    pub grant_id: Option<i64>,
    /// The partner concerned.
    pub partner_id: Option<i64>,
    /// Its name.
    pub partner_name: Option<String>,
    /// What was found (a figure, a format, a list).
    #[schema(value_type = Object)]
    pub found: Value,
    /// What the standard requires.
    #[schema(value_type = Object)]
    pub required: Value,
    /// Human sentence.
    pub detail: String,
    /// Grants involved (the other partner's exclusive grant, the overlapping grant).
    #[schema(value_type = Vec<GrantRef>)]
    pub grants: Vec<SeenGrantRef>,
}

/// Share of a partner's open outlets by site type among those opened by the end of a year.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearMix {
    /// Calendar year.
    pub year: i32,
    /// Open outlets opened by the end of that year.
    pub outlets: usize,
    /// Site type → share of those outlets (0–1).
    pub share: BTreeMap<String, f64>,
}

/// A partner's network at a glance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartnerSummary {
    /// Partner id.
    pub partner_id: i64,
    /// Its name.
    pub partner_name: String,
    /// Its tier.
    pub tier: String,
    /// Format → open outlets.
    pub by_format: BTreeMap<String, usize>,
    /// Role → open outlets.
    pub by_role: BTreeMap<String, usize>,
    /// Site-type mix of its open outlets.
    #[serde(flatten)]
    pub mix: Mix,
    /// Breaches involving this partner.
    pub breaches: usize,
    /// Its outlets in the pipeline on the day checked.
    pub in_pipeline: usize,
    /// Those past their due day (approval or opening; see `GET .../pipeline`).
    pub overdue: usize,
}

/// The site-type mix of a set of open outlets (mall vs auto-city), now and by year.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Mix {
    /// Open outlets.
    pub outlets: usize,
    /// Site type → open outlets.
    pub by_site_type: BTreeMap<String, usize>,
    /// Site type → share of open outlets (0–1).
    pub site_type_share: BTreeMap<String, f64>,
    /// The mix at the end of each year with an opening (outlets without an opening date
    /// are left out of it).
    pub mix_by_year: Vec<YearMix>,
}

impl Mix {
    /// The mix of these open outlets.
    pub fn of(open: &[&Outlet]) -> Mix {
        let by_site_type = count(open.iter().map(|o| o.site_type.as_str()));
        let mut years: Vec<i32> = open.iter().filter_map(|o| o.opened_on.map(|d| d.year())).collect();
        years.sort_unstable();
        years.dedup();
        let mix_by_year = years
            .into_iter()
            .map(|year| {
                let by_then: Vec<&&Outlet> = open.iter().filter(|o| o.opened_on.is_some_and(|d| d.year() <= year)).collect();
                let counts = count(by_then.iter().map(|o| o.site_type.as_str()));
                YearMix { year, outlets: by_then.len(), share: shares(&counts, by_then.len()) }
            })
            .collect();
        Mix { outlets: open.len(), site_type_share: shares(&by_site_type, open.len()), by_site_type, mix_by_year }
    }
}

/// The compliance report of a network.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Network code.
    pub network: String,
    /// The standard checked against.
    pub standard: String,
    /// The day grants were taken in force on.
    pub checked_on: NaiveDate,
    /// Whether no breach was found.
    pub compliant: bool,
    /// Every breach, by rule then outlet.
    pub breaches: Vec<Breach>,
    /// What could not be checked for want of data (`facility_missing`), by outlet: such an
    /// outlet has not passed the rule, nor broken it.
    pub data_gaps: Vec<Breach>,
    /// One summary per partner checked.
    pub partners: Vec<PartnerSummary>,
    /// The site-type mix of every checked partner's open outlets together.
    pub mix: Mix,
    /// Outlets of the checked partners in the pipeline on the day checked.
    pub in_pipeline: usize,
    /// Those past their due day.
    pub overdue: usize,
    /// The scoring model's expected annual sales of each checked own open outlet that
    /// sells, by outlet id (once the network has a demand grid).
    pub expected_sales: Option<BTreeMap<i64, f64>>,
    /// The scoring model version the expected sales come from.
    pub model: Option<crate::domain::scoring::ModelRef>,
}

/// What a compliance check looks at.
pub struct Inputs<'a> {
    /// Network code.
    pub network: &'a str,
    /// Its policy.
    pub policy: &'a Policy,
    /// Partners to check (all, or the one asked for).
    pub partners: &'a [Partner],
    /// Every outlet of the network (own and competitors', open and closed).
    pub outlets: &'a [Outlet],
    /// The network's active grants.
    pub grants: Option<&'a NetworkGrants>,
    /// The regions.
    pub regions: &'a RegionSet,
    /// Conflicting pairs among stored grants.
    pub conflicts: &'a [(i64, ConflictEntry)],
    /// Expected annual sales per outlet id, once a demand grid exists.
    pub expected_sales: Option<&'a HashMap<i64, f64>>,
    /// The day grants must be in force on.
    pub day: NaiveDate,
    /// Today: on a later day, outlets in the pipeline count from their planned opening.
    pub today: NaiveDate,
    /// Who reads the report: other partners' grants are unnamed for a partner token.
    pub viewer: Viewer,
}

fn figure(v: f64) -> Value {
    json!(v)
}

struct Checker<'a> {
    inputs: &'a Inputs<'a>,
    breaches: Vec<Breach>,
    data_gaps: Vec<Breach>,
}

impl Checker<'_> {
    fn outlet_breach(&mut self, rule: Rule, (o, partner): (&Outlet, &Partner), (found, required): (Value, Value), detail: String, grants: Vec<SeenGrantRef>) {
        let list = if rule == Rule::FacilityMissing { &mut self.data_gaps } else { &mut self.breaches };
        list.push(Breach {
            rule,
            outlet_id: Some(o.id),
            outlet_name: Some(o.name.clone()),
            grant_id: None,
            partner_id: Some(partner.id),
            partner_name: Some(partner.name.clone()),
            found,
            required,
            detail,
            grants,
        });
    }

    fn check_outlet(&mut self, o: &Outlet, partner: &Partner, own_outlets: &[&Outlet]) {
        let inputs = self.inputs;
        let standard = inputs.policy.standard();
        let Some(format) = o.format.as_deref().and_then(|f| standard.format(f)) else { return };
        let allowed = standard.formats_for_tier(&partner.tier);
        if !allowed.contains(&format.code) {
            self.outlet_breach(
                Rule::FormatNotAllowedForTier,
                (o, partner),
                (json!(format.code), json!(allowed)),
                format!("a {} partner may not open a `{}` outlet; allowed: {}", partner.tier, format.code, allowed.join(", ")),
                vec![],
            );
        }
        if format.needs_anchor {
            let city = inputs.regions.containing(o.location, Level::City);
            let in_city =
                |other: &&&Outlet| city.is_some_and(|c| inputs.regions.containing(other.location, Level::City).is_some_and(|oc| oc.adcode == c.adcode));
            let anchored = own_outlets
                .iter()
                .filter(|other| other.id != o.id && other.format.as_ref().is_some_and(|f| standard.anchor_formats.contains(f)))
                .any(|other| in_city(&other));
            if !anchored {
                let place = city.map_or("its city (outside the region data)".to_string(), |c| format!("{} ({})", c.name, c.adcode));
                self.outlet_breach(
                    Rule::MissingAnchorStore,
                    (o, partner),
                    (json!({"city": city.map(|c| &c.adcode), "anchor_stores": 0}), json!({"anchor_formats": standard.anchor_formats, "anchor_stores": 1})),
                    format!("a `{}` outlet needs a {} store of its partner in {place} first; there is none", format.code, standard.anchor_formats.join(" or ")),
                    vec![],
                );
            }
        }
        let minima = format.minima.figures();
        for ((key, found), (_, min)) in o.facility.figures().into_iter().zip(minima) {
            match (found, min) {
                (Some(found), Some(min)) if found < min => self.outlet_breach(
                    Rule::FacilityBelowMinimum,
                    (o, partner),
                    (json!({ key: figure(found) }), json!({ key: figure(min) })),
                    format!("{key} {found} is below the `{}` minimum of {min}", format.code),
                    vec![],
                ),
                (None, Some(min)) => self.outlet_breach(
                    Rule::FacilityMissing,
                    (o, partner),
                    (json!({ key: null }), json!({ key: figure(min) })),
                    format!("{key} is not recorded; the `{}` format needs at least {min}", format.code),
                    vec![],
                ),
                _ => {}
            }
        }
        let placement = place(inputs.grants, partner.id, o.location, inputs.day, inputs.today);
        if placement.own.is_empty() {
            self.outlet_breach(
                Rule::OutsideTerritory,
                (o, partner),
                (json!({"grants_holding_the_site": 0}), json!({"grants_holding_the_site": 1})),
                format!("the outlet stands outside every grant of {} in force on {}", partner.name, inputs.day),
                vec![],
            );
        }
        if !placement.foreign_exclusive.is_empty() {
            let viewer = inputs.viewer;
            let refs: Vec<GrantRef> = placement.foreign_exclusive.iter().map(|g| GrantRef::from(g.as_ref())).collect();
            let names: Vec<String> = refs.iter().map(|g| viewer.name_grant(g.grant_id, g.partner_id, &g.partner_name)).collect();
            let ids: Vec<Value> = refs.iter().map(|g| if viewer.sees(g.partner_id) { json!(g.grant_id) } else { json!("another partner's") }).collect();
            self.outlet_breach(
                Rule::InsideOtherExclusiveTerritory,
                (o, partner),
                (json!(ids), json!([])),
                format!("the outlet stands inside another partner's exclusive territory: {}", names.join(", ")),
                refs.into_iter().map(|g| viewer.grant_ref(g)).collect(),
            );
        }
        if let Some(sales) = inputs.expected_sales.and_then(|s| s.get(&o.id))
            && !format.annual_sales.contains(*sales)
        {
            let range = format.annual_sales;
            self.outlet_breach(
                Rule::SalesOutsideRange,
                (o, partner),
                (json!({"expected_annual_sales": sales}), json!({"annual_sales": range})),
                format!("expected annual sales {sales:.0} are outside the `{}` range {}", format.code, describe_range(&range)),
                vec![],
            );
        }
    }
}

/// `600–800`, `≥ 1200`, `≤ 800` or `any`.
fn describe_range(r: &crate::domain::standard::SalesRange) -> String {
    match (r.min, r.max) {
        (Some(a), Some(b)) => format!("{a}–{b}"),
        (Some(a), None) => format!("≥ {a}"),
        (None, Some(b)) => format!("≤ {b}"),
        (None, None) => "any".to_string(),
    }
}

fn shares(counts: &BTreeMap<String, usize>, total: usize) -> BTreeMap<String, f64> {
    counts.iter().map(|(k, n)| (k.clone(), if total == 0 { 0.0 } else { *n as f64 / total as f64 })).collect()
}

fn count<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.to_string()).or_insert(0) += 1;
    }
    out
}

fn summary(partner: &Partner, open: &[&Outlet], breaches: usize, pipeline: &[crate::domain::pipeline::Entry]) -> PartnerSummary {
    PartnerSummary {
        partner_id: partner.id,
        partner_name: partner.name.clone(),
        tier: partner.tier.clone(),
        by_format: count(open.iter().filter_map(|o| o.format.as_deref())),
        by_role: count(open.iter().filter_map(|o| o.role.as_deref())),
        mix: Mix::of(open),
        breaches,
        in_pipeline: pipeline.len(),
        overdue: pipeline.iter().filter(|e| e.overdue).count(),
    }
}

/// The breaches of `after` that `before` does not have (by rule, outlet, grant and
/// partner): what a change would break.
pub fn new_breaches(before: &[Breach], after: Vec<Breach>) -> Vec<Breach> {
    let key = |b: &Breach| (b.rule, b.outlet_id, b.grant_id, b.partner_id);
    let known: std::collections::BTreeSet<_> = before.iter().map(key).collect();
    after.into_iter().filter(|b| !known.contains(&key(b))).collect()
}

/// Checks the partners' open outlets and the network's grants against the standard.
pub fn check(inputs: &Inputs<'_>) -> Report {
    let mut checker = Checker { inputs, breaches: Vec::new(), data_gaps: Vec::new() };
    let mut summaries = Vec::new();
    let mut all_open = Vec::new();
    for partner in inputs.partners {
        // Open by the day checked (on a later day than today, planned to be open by then).
        let own = || inputs.outlets.iter().filter(|o| o.partner_id == Some(partner.id) && !o.competitor);
        let open: Vec<&Outlet> = own().filter(|o| o.planned_open_on(inputs.day, inputs.today)).collect();
        let pipeline = crate::domain::pipeline::entries(own(), inputs.policy.standard(), inputs.day);
        let before = checker.breaches.len();
        for o in &open {
            checker.check_outlet(o, partner, &open);
        }
        let checked = |id: i64| inputs.partners.iter().any(|p| p.id == id);
        for (grant_id, c) in inputs.conflicts {
            // Each conflicting pair once: under the first grant's partner, or under the
            // second's when only that partner is checked.
            let first = inputs.grants.and_then(|g| g.get(*grant_id)).map(|g| g.partner_id);
            let owner = match first {
                Some(p) if checked(p) => Some(p),
                _ if checked(c.partner_id) => Some(c.partner_id),
                _ => None,
            };
            if owner == Some(partner.id) {
                // Told from the side of the grant its reader may see whole: the first, or,
                // for a partner token holding only the second, the second.
                let viewer = inputs.viewer;
                let first_seen = first.is_some_and(|p| viewer.sees(p));
                let (own, other, other_partner) =
                    if first_seen || viewer == Viewer::All { (*grant_id, c.grant_id, c.partner_id) } else { (c.grant_id, *grant_id, first.unwrap_or(-1)) };
                let other_name = inputs.grants.and_then(|g| g.get(other)).map(|g| g.partner_name.clone()).unwrap_or_default();
                checker.breaches.push(Breach {
                    rule: Rule::ExclusiveOverlap,
                    outlet_id: None,
                    outlet_name: None,
                    grant_id: Some(own),
                    partner_id: Some(partner.id),
                    partner_name: Some(partner.name.clone()),
                    found: json!({"overlap_km2": c.overlap_km2, "overlap_ratio": c.overlap_ratio}),
                    required: json!({"overlap_km2": 0}),
                    detail: format!("grant {own} overlaps {} by {:.3} km²", viewer.name_grant(other, other_partner, &other_name), c.overlap_km2),
                    grants: inputs.grants.and_then(|g| g.get(other)).map(|g| vec![viewer.grant_ref(GrantRef::from(g.as_ref()))]).unwrap_or_default(),
                });
            }
        }
        summaries.push(summary(partner, &open, checker.breaches.len() - before, &pipeline));
        all_open.extend(open);
    }
    let (in_pipeline, overdue) = (summaries.iter().map(|s| s.in_pipeline).sum(), summaries.iter().map(|s| s.overdue).sum());
    let mut breaches = checker.breaches;
    breaches.sort_by_key(|b| (b.rule, b.outlet_id, b.grant_id));
    Report {
        network: inputs.network.to_string(),
        standard: inputs.policy.standard.clone(),
        checked_on: inputs.day,
        compliant: breaches.is_empty(),
        breaches,
        data_gaps: checker.data_gaps,
        model: None,
        expected_sales: inputs.expected_sales.map(|sales| all_open.iter().filter_map(|o| sales.get(&o.id).map(|s| (o.id, *s))).collect()),
        partners: summaries,
        mix: Mix::of(&all_open),
        in_pipeline,
        overdue,
    }
}
