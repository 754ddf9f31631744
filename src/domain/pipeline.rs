//! The outlet pipeline: where each outlet not yet open stood on a day, what was due by
//! when under the network's standard (approval within the format's `approval_days` of the
//! proposal, opening within its `build_days` of the approval; a format without figures
//! has no due dates), and who is late.

use crate::domain::outlets::{Outlet, OutletStatus};
use crate::domain::standard::Standard;
use chrono::NaiveDate;
use serde::Serialize;

/// What falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// The decision on a proposal.
    Approval,
    /// The opening of an approved outlet (built and open).
    Opening,
}

/// An outlet in the pipeline on a day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// The outlet.
    pub outlet_id: i64,
    /// Its name.
    pub outlet_name: String,
    /// Its partner (none for a competitor's).
    pub partner_id: Option<i64>,
    /// Its partner's name (filled in by the application layer).
    pub partner_name: Option<String>,
    /// Its format.
    pub format: Option<String>,
    /// Its stage on the day.
    pub status: OutletStatus,
    /// The day it reached that stage (none: not known).
    pub since: Option<NaiveDate>,
    /// The day it was proposed.
    pub proposed_on: Option<NaiveDate>,
    /// The day it was approved (if by the day).
    pub approved_on: Option<NaiveDate>,
    /// The opening planned.
    pub planned_open_on: Option<NaiveDate>,
    /// What falls due next.
    pub due: Option<Milestone>,
    /// The day it falls due.
    pub due_on: Option<NaiveDate>,
    /// Days from the day asked for to the due day; negative when overdue.
    pub days_left: Option<i64>,
    /// Whether the due day has passed.
    pub overdue: bool,
    /// Days the approval came after its due day (only when it was late).
    pub approval_late_days: Option<i64>,
}

impl Entry {
    /// The outlet's pipeline entry on `day`, if it was in the pipeline then.
    pub fn of(o: &Outlet, standard: &Standard, day: NaiveDate) -> Option<Entry> {
        let status = o.status_on(day).filter(|s| s.in_pipeline())?;
        let format = o.format.as_deref().and_then(|f| standard.format(f)).filter(|_| !o.competitor);
        let after = |from: Option<NaiveDate>, days: Option<u32>| from.zip(days).map(|(d, n)| d + chrono::Days::new(u64::from(n)));
        let approval_due = after(o.proposed_on, format.and_then(|f| f.approval_days));
        let approved_on = o.approved_on.filter(|d| *d <= day);
        let (due, due_on) = match status {
            OutletStatus::Proposed => (Some(Milestone::Approval), approval_due),
            _ => (Some(Milestone::Opening), after(approved_on, format.and_then(|f| f.build_days))),
        };
        let days_left = due_on.map(|d| (d - day).num_days());
        let approval_late_days = approved_on.zip(approval_due).map(|(done, due)| (done - due).num_days()).filter(|late| *late > 0);
        let since = match status {
            OutletStatus::Proposed => o.proposed_on,
            OutletStatus::Approved => o.approved_on,
            _ => o.construction_started_on,
        };
        Some(Entry {
            outlet_id: o.id,
            outlet_name: o.name.clone(),
            partner_id: o.partner_id,
            partner_name: None,
            format: o.format.clone(),
            status,
            since,
            proposed_on: o.proposed_on,
            approved_on,
            planned_open_on: o.planned_open_on,
            due: due_on.and(due),
            due_on,
            days_left,
            overdue: days_left.is_some_and(|d| d < 0),
            approval_late_days,
        })
    }
}

/// The pipeline of a network on a day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pipeline {
    /// Network code.
    pub network: String,
    /// The day it stood so on.
    pub on: NaiveDate,
    /// Outlets in the pipeline.
    pub in_pipeline: usize,
    /// Those past their due day.
    pub overdue: usize,
    /// Every outlet in the pipeline, the most overdue first.
    pub entries: Vec<Entry>,
}

/// The pipeline of a set of outlets on `day`, by due day (the most overdue first), then id.
pub fn entries<'a>(outlets: impl IntoIterator<Item = &'a Outlet>, standard: &Standard, day: NaiveDate) -> Vec<Entry> {
    let mut entries: Vec<Entry> = outlets.into_iter().filter_map(|o| Entry::of(o, standard, day)).collect();
    entries.sort_by_key(|e| (e.due_on.is_none(), e.due_on, e.outlet_id));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Policy;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test data")
    }

    fn smart() -> &'static Policy {
        crate::domain::policy::bundled().get("smart").expect("test data")
    }

    fn proposed(on: &str) -> Outlet {
        let policy = smart();
        let req = crate::domain::outlets::OutletRequest {
            partner_id: Some(1),
            name: "Mall showroom".into(),
            location: serde_json::json!({"type": "Point", "coordinates": [112.1, 32.0]}),
            format: Some("light_showroom".into()),
            site_type: "mall".into(),
            status: Some(OutletStatus::Proposed),
            proposed_on: Some(on.into()),
            ..Default::default()
        };
        crate::domain::outlets::validate("smart", &req, policy, true, crate::geometry::CoordSys::Wgs84, day(on)).expect("test data")
    }

    #[test]
    fn approval_falls_due_thirty_days_after_the_proposal_and_opening_forty_five_after_the_approval() {
        let standard = smart().standard();
        let f = standard.format("light_showroom").expect("test data");
        let (approval, build) = (f.approval_days.expect("test data"), f.build_days.expect("test data"));
        assert_eq!((approval, build), (30, 45));
        let mut o = proposed("2026-01-01");
        assert!(Entry::of(&o, standard, day("2025-12-31")).is_none(), "not in the pipeline before its proposal");
        let e = Entry::of(&o, standard, day("2026-01-21")).expect("test data");
        assert_eq!((e.due, e.due_on, e.days_left, e.overdue), (Some(Milestone::Approval), Some(day("2026-01-31")), Some(10), false));
        let e = Entry::of(&o, standard, day("2026-02-05")).expect("test data");
        assert_eq!((e.days_left, e.overdue), (Some(-5), true));
        o.status = OutletStatus::Approved;
        o.approved_on = Some(day("2026-02-10"));
        let before = Entry::of(&o, standard, day("2026-02-09")).expect("test data");
        assert_eq!((before.status, before.approved_on), (OutletStatus::Proposed, None), "on a day before the approval, it was proposed");
        let e = Entry::of(&o, standard, day("2026-02-10")).expect("test data");
        assert_eq!((e.status, e.due, e.due_on, e.approval_late_days), (OutletStatus::Approved, Some(Milestone::Opening), Some(day("2026-03-27")), Some(10)));
        o.status = OutletStatus::Open;
        o.opened_on = Some(day("2026-04-01"));
        assert_eq!(Entry::of(&o, standard, day("2026-03-30")).map(|e| e.overdue), Some(true));
        assert!(Entry::of(&o, standard, day("2026-04-01")).is_none(), "open: out of the pipeline");
    }

    #[test]
    fn a_format_without_figures_has_no_due_dates() {
        let mut o = proposed("2026-01-01");
        let mut standard = smart().standard().clone();
        for f in &mut standard.formats {
            (f.approval_days, f.build_days) = (None, None);
        }
        o.status = OutletStatus::Proposed;
        let e = Entry::of(&o, &standard, day("2026-06-01")).expect("test data");
        assert_eq!((e.due, e.due_on, e.days_left, e.overdue), (None, None, None, false));
    }

    #[test]
    fn an_outlet_is_open_on_a_day_exactly_when_it_is_open_during_that_day() {
        let base = proposed("2026-01-01");
        let mut cases = vec![base.clone()];
        for (status, opened, closed) in [
            (OutletStatus::Open, None, None),
            (OutletStatus::Open, Some("2026-02-01"), None),
            (OutletStatus::Closed, Some("2026-02-01"), Some("2026-03-01")),
            (OutletStatus::Closed, None, Some("2026-03-01")),
            (OutletStatus::Closed, Some("2026-02-01"), None),
            (OutletStatus::Cancelled, None, Some("2026-01-15")),
        ] {
            let mut o = base.clone();
            (o.status, o.opened_on, o.closed_on) = (status, opened.map(day), closed.map(day));
            cases.push(o);
        }
        for o in &cases {
            for d in ["2025-12-31", "2026-01-01", "2026-01-20", "2026-02-01", "2026-02-28", "2026-03-01", "2027-01-01"].map(day) {
                assert_eq!(o.open_on(d), o.open_during(d, d), "{:?} opened {:?} closed {:?} on {d}", o.status, o.opened_on, o.closed_on);
            }
        }
    }
}
