//! The network against its format standard (`domain::compliance`), fed with what the
//! store holds, and built for what the caller may see.

use super::blocking;
use super::catalog::Catalog;
use super::ledger::Ledger;
use super::scoring::Scoring;
use crate::domain::access::{Caller, Role, Viewer};
use crate::domain::compliance::{self, Breach, Report};
use crate::domain::exclusivity::NetworkGrants;
use crate::domain::grants::Validity;
use crate::domain::period::Period;
use crate::domain::scoring::network::outlet_sales;
use crate::error::{Error, Result};
use crate::store::Store;
use chrono::NaiveDate;
use std::sync::Arc;

/// A change whose consequences can be asked for before it is made.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// Revoking a grant.
    Revoke(i64),
    /// Closing an outlet.
    Close(i64),
    /// Moving a grant's last day (`None`: open-ended); only a shorter window can break
    /// anything, and it is checked on the first day the grant no longer covers.
    ValidTo(i64, Option<NaiveDate>),
    /// Terminating a partner: its grants end on the day given (those starting later are
    /// revoked); checked on the day after.
    Terminate(i64, NaiveDate),
}

/// Compliance reports.
#[derive(Debug)]
pub struct Compliance {
    store: Store,
    catalog: Arc<Catalog>,
    ledger: Arc<Ledger>,
    scoring: Arc<Scoring>,
}

impl Compliance {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>, ledger: Arc<Ledger>, scoring: Arc<Scoring>) -> Compliance {
        Compliance { store, catalog, ledger, scoring }
    }

    /// The network checked against its format standard, for all partners or one, on `on`
    /// (default today; a past day as it stood then, a later day as planned: the grants in
    /// force and the outlets open, or planned open, by then). A
    /// partner token sees its own partner's report only, other partners' grants in it
    /// unnamed.
    pub async fn report(&self, caller: &Caller, network: &str, partner_id: Option<i64>, on: Option<NaiveDate>) -> Result<Report> {
        let entered = self.catalog.enter(caller, network, Role::Viewer).await?;
        let today = chrono::Utc::now().date_naive();
        let day = on.unwrap_or(today);
        let past = day < today;
        let (policy, viewer) = (entered.policy, entered.viewer);
        if let Viewer::Partner(p) = viewer
            && partner_id != Some(p)
        {
            return Err(crate::domain::access::Denied(format!("a partner token sees its own compliance: add ?partner_id={p}")).into());
        }
        // With a grid, the scenario lists the outlets it was built from; without (or for a
        // past day, whose sales the model of today does not know), list them here.
        let (outlets, expected_sales, model) = match self.store.grid_info(network).await?.filter(|_| !past) {
            Some(_) => {
                let n = self.scoring.scenario(network).await?;
                let (scenario, for_sales, in_force) = (n.scenario, n.outlets.clone(), n.model.clone());
                let sales = blocking(move || outlet_sales(&scenario, policy, &in_force.params, &for_sales)).await?;
                (n.outlets, Some(sales), Some(n.model.model.clone()))
            }
            None => (self.store.list_outlets(network, &Default::default()).await?, None, None),
        };
        let partners = match partner_id {
            Some(id) => vec![self.catalog.partner(network, id).await?.ok_or_else(|| Error::NotFound(format!("no partner {id} in network `{network}`")))?],
            None => self.catalog.all_partners(network).await?,
        };
        // A past day: the grants as they stood then (revoked ones before their revoke), and
        // that day as "today" (what held then, what was open then). Conflicts first: they
        // bring the index and the regions up to date.
        let (grants_then, conflicts) = match past {
            true => {
                let grants = self.ledger.grants_in_force(network, Period::day(day)).await?;
                let conflicts = self.ledger.conflicts_between(network, &grants).await?;
                (Some(grants), conflicts)
            }
            false => (None, self.ledger.conflicts_of(network).await?),
        };
        self.catalog.refresh_regions().await?;
        let regions = self.catalog.regions();
        let then = grants_then.map(|g| NetworkGrants::of(g, &regions));
        let index = self.ledger.index();
        let inputs = compliance::Inputs {
            network,
            policy,
            partners: &partners,
            outlets: &outlets,
            grants: if past { then.as_ref() } else { index.network(network) },
            regions: &regions,
            conflicts: &conflicts,
            expected_sales: expected_sales.as_ref(),
            day,
            today: if past { day } else { today },
            viewer,
        };
        let mut report = compliance::check(&inputs);
        report.model = model;
        Ok(report)
    }

    /// What a change would break: the breaches of the standard it would add (an outlet
    /// left outside every grant of its partner, a city showroom left without an anchor
    /// store, ...), today, or for a shorter grant on the first day it no longer covers.
    /// Only a governing caller for a grant's change, an admin for a close, as for the
    /// change itself; nothing is written.
    pub async fn consequences(&self, caller: &Caller, network: &str, change: Change) -> Result<Vec<Breach>> {
        let (_, policy) = self.catalog.network(network).await?;
        let before_outlets = self.store.list_outlets(network, &Default::default()).await?;
        let mut outlets = before_outlets.clone();
        let today = chrono::Utc::now().date_naive();
        let mut day = today;
        let mut ended = Vec::new();
        match change {
            Change::Revoke(id) => {
                caller.governs(network)?;
                if self.store.grant(network, id).await?.status == crate::domain::grants::Status::Revoked.as_str() {
                    return Ok(Vec::new());
                }
            }
            Change::ValidTo(id, to) => {
                caller.governs(network)?;
                let row = self.store.grant(network, id).await?;
                let was = row.valid_to.as_deref().and_then(|d| d.parse::<NaiveDate>().ok());
                let first_day_left = match (was, to) {
                    (_, None) => None,
                    (None, Some(to)) => Some(to),
                    (Some(was), Some(to)) => Some(to).filter(|to| *to < was),
                };
                match first_day_left.and_then(|to| to.succ_opt()) {
                    Some(after) if row.status != crate::domain::grants::Status::Revoked.as_str() => day = after.max(today),
                    _ => return Ok(Vec::new()),
                }
            }
            Change::Terminate(partner_id, last_day) => {
                caller.governs(network)?;
                day = last_day.succ_opt().unwrap_or(last_day).max(today);
                ended = self.ledger.ended_by_termination(network, partner_id, last_day);
            }
            Change::Close(id) => {
                let viewer = caller.enter(network, Role::Admin)?;
                let outlet = outlets.iter_mut().find(|o| o.id == id).ok_or_else(|| Error::NotFound(format!("no outlet {id} in network `{network}`")))?;
                viewer.acts_for(outlet.partner_id, &format!("outlet {id}"))?;
                outlet.status = crate::domain::outlets::OutletStatus::Closed;
            }
        }
        let partners = self.catalog.all_partners(network).await?;
        let regions = self.catalog.regions();
        let (now, network) = (self.ledger.index().shared(network), network.to_string());
        blocking(move || {
            let after = match change {
                Change::Revoke(id) => now.as_ref().map(|g| g.without(id)),
                Change::ValidTo(id, to) => now.as_ref().map(|g| g.with_changes(&[(id, g.get(id).map(|grant| Validity { to, ..grant.validity }))], &regions)),
                Change::Terminate(_, _) => now.as_ref().map(|g| g.with_changes(&ended, &regions)),
                Change::Close(_) => now.as_deref().cloned(),
            };
            let inputs = |grants, outlets| compliance::Inputs {
                network: &network,
                policy,
                partners: &partners,
                outlets,
                grants,
                regions: &regions,
                conflicts: &[],
                expected_sales: None,
                day,
                today,
                viewer: Viewer::All,
            };
            let before = compliance::check(&inputs(now.as_deref(), &before_outlets));
            compliance::new_breaches(&before.breaches, compliance::check(&inputs(after.as_ref(), &outlets)).breaches)
        })
        .await
    }
}
