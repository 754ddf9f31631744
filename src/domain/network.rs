//! Networks (one brand's channel network, with its policy) and their partners.

use crate::input::{InputError, MAX_CODE_CHARS, MAX_NAME_CHARS, too_long};
use serde::Serialize;
use sqlx::FromRow;

/// A network.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Network {
    /// Code used in paths (`smart`).
    pub code: String,
    /// Human name.
    pub name: String,
    /// Bundled policy code.
    pub policy: String,
    /// When it was created.
    pub created_at: String,
}

/// Where a partner stands with the brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum PartnerStatus {
    /// Trading: takes grants and outlets.
    Active,
    /// On hold: keeps its grants and outlets, takes no new grant.
    Suspended,
    /// Gone: its grants ended on its `terminated_on` day; takes nothing new. Kept as history.
    Terminated,
}

impl PartnerStatus {
    /// The code used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerStatus::Active => "active",
            PartnerStatus::Suspended => "suspended",
            PartnerStatus::Terminated => "terminated",
        }
    }
}

/// A partner: a company in a network, with a tier of the network's policy.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Partner {
    /// Id, stable.
    pub id: i64,
    /// Network code.
    pub network: String,
    /// Company name.
    pub name: String,
    /// Tier code from the network's policy.
    pub tier: String,
    /// When it was created.
    pub created_at: String,
    /// Who to call there.
    pub contact_name: Option<String>,
    /// Their e-mail.
    pub contact_email: Option<String>,
    /// Their phone.
    pub contact_phone: Option<String>,
    /// The caller's own key for the partner (a dealer code), unique in the network.
    pub external_id: Option<String>,
    /// Active, suspended or terminated.
    pub status: PartnerStatus,
    /// The last day of a terminated partner's grants.
    pub terminated_on: Option<String>,
    /// When its record last changed.
    pub updated_at: Option<String>,
}

/// The fields of a partner's record a merge patch may change.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerRecord {
    /// Company name.
    pub name: String,
    /// Who to call there.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// Their e-mail.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Their phone.
    #[serde(default)]
    pub contact_phone: Option<String>,
    /// The caller's own key for the partner, unique in the network.
    #[serde(default)]
    pub external_id: Option<String>,
    /// `active` or `suspended` (terminating has its own request).
    pub status: PartnerStatus,
}

impl PartnerRecord {
    /// The record of a stored partner.
    pub fn of(p: &Partner) -> PartnerRecord {
        PartnerRecord {
            name: p.name.clone(),
            contact_name: p.contact_name.clone(),
            contact_email: p.contact_email.clone(),
            contact_phone: p.contact_phone.clone(),
            external_id: p.external_id.clone(),
            status: p.status,
        }
    }

    /// The record with its texts trimmed and empty ones dropped.
    pub fn cleaned(&self) -> PartnerRecord {
        let clean = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        PartnerRecord {
            name: self.name.trim().to_string(),
            contact_name: clean(&self.contact_name),
            contact_email: clean(&self.contact_email),
            contact_phone: clean(&self.contact_phone),
            external_id: clean(&self.external_id),
            status: self.status,
        }
    }

    /// Every problem of the record, located.
    pub fn problems(&self) -> Vec<InputError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(InputError::at("/name", "must not be empty"));
        }
        errors.extend(too_long("/name", &self.name, MAX_NAME_CHARS));
        for (field, value) in [("/contact_name", &self.contact_name), ("/contact_email", &self.contact_email), ("/contact_phone", &self.contact_phone)] {
            errors.extend(value.as_deref().and_then(|v| too_long(field, v, MAX_NAME_CHARS)));
        }
        if let Some(email) = self.contact_email.as_deref()
            && !email.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        {
            errors.push(InputError::at("/contact_email", format!("`{email}` is not an e-mail address")));
        }
        errors.extend(self.external_id.as_deref().and_then(|e| too_long("/external_id", e, MAX_CODE_CHARS)));
        if self.status == PartnerStatus::Terminated {
            errors.push(InputError::at("/status", "a partner is terminated with POST .../partners/{id}/terminate, which shows what it breaks"));
        }
        errors
    }
}
