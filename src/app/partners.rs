//! Partners as records: renamed, their contacts and key kept, suspended, and terminated
//! (its grants ended on a day, after the consequences were shown).

use super::catalog::Catalog;
use super::ledger::Ledger;
use crate::domain::access::Caller;
use crate::domain::compliance::Breach;
use crate::domain::network::{Partner, PartnerRecord, PartnerStatus};
use crate::error::{Error, Result};
use crate::input::{deserialize_located, merge_patch};
use crate::store::grants::{self as grant_rows, Decided};
use crate::store::networks as partner_rows;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// Body of `POST /networks/{net}/partners/{id}/terminate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateRequest {
    /// The last day its grants are in force (ISO date, today or later; default today).
    #[serde(default)]
    pub last_day: Option<String>,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Terminate even if it breaks the standard (its outlets left outside every grant).
    #[serde(default)]
    pub force: bool,
}

/// Partners' records.
#[derive(Debug)]
pub struct Partners {
    store: crate::store::Store,
    catalog: Arc<Catalog>,
    ledger: Arc<Ledger>,
}

impl Partners {
    pub(super) fn new(store: crate::store::Store, catalog: Arc<Catalog>, ledger: Arc<Ledger>) -> Partners {
        Partners { store, catalog, ledger }
    }

    /// Changes a partner's record with a JSON Merge Patch (RFC 7396) over its name,
    /// contacts, `external_id` and status (`active` / `suspended`); its tier never
    /// changes. A terminated partner is kept as it was (409). Only a governing caller.
    pub async fn update(&self, caller: &Caller, network: &str, id: i64, patch: &Value) -> Result<Partner> {
        caller.governs(network)?;
        self.catalog.network(network).await?;
        let Some(fields) = patch.as_object() else {
            return Err(Error::invalid("", "a merge patch is a JSON object of the fields to change"));
        };
        if fields.contains_key("tier") {
            return Err(Error::invalid("/tier", "a partner's tier does not change (its grants were decided under it): make a new partner"));
        }
        let mut tx = self.ledger.begin().await?;
        let stored = partner_rows::partner_in(&mut tx, network, id).await?;
        if stored.status == PartnerStatus::Terminated {
            return Err(Error::Duplicate(format!("partner {id} is terminated; terminated partners are kept as they were")));
        }
        let mut merged = serde_json::to_value(PartnerRecord::of(&stored)).map_err(Error::data("the stored partner as a record"))?;
        merge_patch(&mut merged, patch);
        let record: PartnerRecord = deserialize_located(&merged)?;
        let errors = record.problems();
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let record = record.cleaned();
        let renamed = record.name != stored.name;
        let partner = Partner {
            name: record.name,
            contact_name: record.contact_name,
            contact_email: record.contact_email,
            contact_phone: record.contact_phone,
            external_id: record.external_id,
            status: record.status,
            ..stored
        };
        let updated = partner_rows::update_partner(&mut tx, &partner, renamed).await?;
        let request =
            serde_json::value::to_raw_value(&serde_json::json!({"partner_id": id, "patch": patch})).map_err(Error::data("the change's audit record"))?;
        let changed =
            Decided { action: "partner", result: "updated", grant_id: None, outlet_id: None, request: &request, conflicts: &[], actor: &caller.actor };
        grant_rows::record(&mut tx, network, changed).await?;
        tx.commit().await?;
        self.store.partners_changed();
        self.ledger.catch_up().await?;
        Ok(updated)
    }

    /// Terminates a partner: every grant of its that holds ends on `last_day` (one
    /// starting later is revoked), and it takes nothing new. `broke`: what that breaks
    /// (see [`super::compliance::Compliance::consequences`]), kept in the audit record with
    /// the grants changed. Only a governing caller.
    pub async fn terminate(&self, caller: &Caller, network: &str, id: i64, last_day: NaiveDate, reason: &str, broke: &[Breach]) -> Result<Partner> {
        caller.governs(network)?;
        super::check_reason(reason)?;
        self.catalog.network(network).await?;
        let today = chrono::Utc::now().date_naive();
        if last_day < today {
            return Err(Error::invalid("/last_day", format!("{last_day} is before today ({today}): grants end only in the future")));
        }
        let mut tx = self.ledger.begin().await?;
        let stored = partner_rows::partner_in(&mut tx, network, id).await?;
        if stored.status == PartnerStatus::Terminated {
            return Err(Error::Duplicate(format!("partner {id} is terminated already")));
        }
        let changes = self.ledger.ended_by_termination(network, id, last_day);
        let (mut ended, mut revoked) = (Vec::new(), Vec::new());
        for (grant_id, validity) in &changes {
            match validity {
                Some(v) => {
                    grant_rows::set_valid_to(&mut tx, *grant_id, v.to).await?;
                    ended.push(*grant_id);
                }
                None => {
                    grant_rows::revoke(&mut tx, network, *grant_id, &format!("partner {id} terminated: {reason}")).await?;
                    revoked.push(*grant_id);
                }
            }
        }
        let partner = Partner { status: PartnerStatus::Terminated, terminated_on: Some(last_day.to_string()), ..stored };
        let updated = partner_rows::update_partner(&mut tx, &partner, false).await?;
        let request =
            serde_json::json!({"partner_id": id, "last_day": last_day, "reason": reason, "grants_ended": ended, "grants_revoked": revoked, "broke": broke});
        let request = serde_json::value::to_raw_value(&request).map_err(Error::data("the termination's audit record"))?;
        let done =
            Decided { action: "partner", result: "terminated", grant_id: None, outlet_id: None, request: &request, conflicts: &[], actor: &caller.actor };
        grant_rows::record(&mut tx, network, done).await?;
        tx.commit().await?;
        self.store.partners_changed();
        self.ledger.catch_up().await?;
        Ok(updated)
    }
}
