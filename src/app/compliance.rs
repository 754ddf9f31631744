//! The network against its format standard (`domain::compliance`), fed with what the
//! store holds, and built for what the caller may see.

use super::blocking;
use super::catalog::Catalog;
use super::ledger::Ledger;
use super::scoring::Scoring;
use crate::domain::access::{Caller, Role, Viewer};
use crate::domain::compliance::{self, Breach, Report};
use crate::domain::scoring::network::outlet_sales;
use crate::error::{Error, Result};
use crate::store::Store;
use chrono::NaiveDate;
use std::sync::Arc;

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
    /// (today, or a later day: the grants in force and the outlets open by then). A
    /// partner token sees its own partner's report only, other partners' grants in it
    /// unnamed.
    pub async fn report(&self, caller: &Caller, network: &str, partner_id: Option<i64>, on: Option<NaiveDate>) -> Result<Report> {
        let entered = self.catalog.enter(caller, network, Role::Viewer).await?;
        let today = chrono::Utc::now().date_naive();
        let day = on.unwrap_or(today);
        if day < today {
            // A past day needs the grants as they stood then, revoked ones too: not kept yet.
            return Err(Error::BadRequest(format!("on={day}: compliance is reported for today or a later day (today is {today})")));
        }
        let (policy, viewer) = (entered.policy, entered.viewer);
        if let Viewer::Partner(p) = viewer
            && partner_id != Some(p)
        {
            return Err(crate::domain::access::Denied(format!("a partner token sees its own compliance: add ?partner_id={p}")).into());
        }
        // With a grid, the scenario lists the outlets it was built from; without, list them here.
        let (outlets, expected_sales, model) = match self.store.grid_info(network).await? {
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
        let conflicts = self.ledger.conflicts_of(network).await?;
        let regions = self.catalog.regions();
        let index = self.ledger.index();
        let inputs = compliance::Inputs {
            network,
            policy,
            partners: &partners,
            outlets: &outlets,
            grants: index.network(network),
            regions: &regions,
            conflicts: &conflicts,
            expected_sales: expected_sales.as_ref(),
            day,
            viewer,
        };
        let mut report = compliance::check(&inputs);
        report.model = model;
        Ok(report)
    }

    /// What revoking grant `id` would break today: the breaches of the standard it would
    /// add (an outlet left outside every grant of its partner, ...). Only a governing
    /// caller, as for the revoke itself; nothing is written.
    pub async fn consequences_of_revoke(&self, caller: &Caller, network: &str, id: i64) -> Result<Vec<Breach>> {
        caller.governs(network)?;
        let (_, policy) = self.catalog.network(network).await?;
        let grant = self.store.grant(network, id).await?;
        if grant.status != crate::domain::grants::Status::Active.as_str() {
            return Ok(Vec::new());
        }
        let outlets = self.store.list_outlets(network, &Default::default()).await?;
        let partners = self.catalog.all_partners(network).await?;
        let regions = self.catalog.regions();
        let (now, network) = (self.ledger.index().shared(network), network.to_string());
        blocking(move || {
            let after = now.as_ref().map(|g| g.without(id));
            let inputs = |grants| compliance::Inputs {
                network: &network,
                policy,
                partners: &partners,
                outlets: &outlets,
                grants,
                regions: &regions,
                conflicts: &[],
                expected_sales: None,
                day: chrono::Utc::now().date_naive(),
                viewer: Viewer::All,
            };
            let before = compliance::check(&inputs(now.as_deref()));
            compliance::new_breaches(&before.breaches, compliance::check(&inputs(after.as_ref())).breaches)
        })
        .await
    }
}
