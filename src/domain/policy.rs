//! Network policies: the tiers of a brand's network, which of them may hold exclusive
//! grants, and the sliver tolerance. Bundled policies are readable files in
//! `data/policies/`, compiled into the binary so a fresh checkout needs nothing else.

use crate::domain::regions::{Level, Region, RegionSet};
use crate::domain::scoring::ScoringParams;
use crate::domain::scoring::money::Money;
use crate::domain::standard::Standard;
use crate::geometry::SliverTolerance;
use crate::input::InputError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Whether partners of a tier may, must or must not hold exclusive grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Exclusivity {
    /// Every grant of this tier is exclusive.
    Always,
    /// A grant of this tier is exclusive only when it says so (default: not).
    Optional,
    /// No grant of this tier is exclusive.
    Never,
}

/// One partner tier of a network.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tier {
    /// Tier code used in the API (`city_partner`, `regional_core`, ...).
    pub code: String,
    /// English name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// Which grants of this tier are exclusive.
    pub exclusive: Exclusivity,
    /// Which regions one grant of this tier may name (default: any).
    #[serde(default)]
    pub scope: TierScope,
    /// Free text from the source.
    #[serde(default)]
    pub note: String,
}

/// Which regions one grant of a tier may name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierScope {
    /// The levels its regions may be of (empty: any).
    #[serde(default)]
    pub levels: Vec<Level>,
    /// Whether its regions must lie in one city (a city, or districts of one city).
    #[serde(default)]
    pub one_city: bool,
}

impl TierScope {
    /// The problems of a grant of tier `tier` naming `codes` (known regions), located at
    /// `{base}/{i}`.
    pub fn check(&self, tier: &str, codes: &[String], regions: &RegionSet, base: &str) -> Vec<InputError> {
        let mut errors = Vec::new();
        let named: Vec<(usize, &Region)> = codes.iter().enumerate().filter_map(|(i, c)| regions.get(c).map(|r| (i, &**r))).collect();
        for &(i, r) in &named {
            if !self.levels.is_empty() && !self.levels.contains(&r.level) {
                let allowed: Vec<&str> = self.levels.iter().map(|l| l.as_str()).collect();
                let detail = format!("a `{tier}` grant names {} regions only; {} ({}) is a {}", allowed.join(" or "), r.adcode, r.name, r.level.as_str());
                errors.push(InputError::at(format!("{base}/{i}"), detail));
            }
        }
        if self.one_city
            && let Some(&(_, first)) = named.first()
        {
            let city = |r: &Region| if r.level == Level::District { r.parent_adcode.clone().unwrap_or_default() } else { r.adcode.clone() };
            for &(i, r) in &named[1..] {
                if city(r) != city(first) {
                    let detail =
                        format!("a `{tier}` grant lies in one city; {} ({}) is not in the city of {} ({})", r.adcode, r.name, first.adcode, first.name);
                    errors.push(InputError::at(format!("{base}/{i}"), detail));
                }
            }
        }
        errors
    }
}

/// A brand's network policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    /// Policy code (`smart`, `haima`).
    pub code: String,
    /// Human name.
    pub name: String,
    /// Where the rules come from.
    #[serde(default)]
    pub source: String,
    /// The format standard of the network (`data/standards/<standard>.json`).
    pub standard: String,
    /// Partner tiers.
    pub tiers: Vec<Tier>,
    /// Overlaps at or below this are warnings.
    pub sliver_tolerance: SliverTolerance,
    /// Parameters of the site-scoring model.
    pub scoring: ScoringParams,
    /// Where the scoring parameters come from.
    #[serde(default)]
    pub scoring_note: String,
    /// What sites cost and earn (capex, rent, margin, horizon, discount rate).
    pub money: Money,
}

/// Why a grant's exclusivity does not fit its partner's tier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExclusivityError {
    /// The tier must hold exclusive grants only.
    #[error("tier `{0}` holds exclusive grants only; `exclusive: false` is not allowed")]
    MustBeExclusive(String),
    /// The tier may not hold exclusive grants.
    #[error("tier `{0}` may not hold exclusive grants")]
    MayNotBeExclusive(String),
}

impl Policy {
    /// The tier with this code.
    pub fn tier(&self, code: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.code == code)
    }

    /// The network's format standard.
    pub fn standard(&self) -> &'static Standard {
        // `bundled()` checks every policy's standard exists before handing policies out.
        crate::domain::standard::find(&self.standard).unwrap_or_else(|| panic!("policy {} names unknown standard {}", self.code, self.standard))
    }

    /// Tier codes, for error messages.
    pub fn tier_codes(&self) -> Vec<&str> {
        self.tiers.iter().map(|t| t.code.as_str()).collect()
    }

    /// Resolves a grant's exclusivity from the request (`None`: the tier's default).
    pub fn resolve_exclusive(&self, tier: &Tier, requested: Option<bool>) -> Result<bool, ExclusivityError> {
        match (tier.exclusive, requested) {
            (Exclusivity::Always, Some(false)) => Err(ExclusivityError::MustBeExclusive(tier.code.clone())),
            (Exclusivity::Always, _) => Ok(true),
            (Exclusivity::Never, Some(true)) => Err(ExclusivityError::MayNotBeExclusive(tier.code.clone())),
            (Exclusivity::Never, _) => Ok(false),
            (Exclusivity::Optional, r) => Ok(r.unwrap_or(false)),
        }
    }
}

const BUNDLED: &[(&str, &str)] = &[("smart", include_str!("../../data/policies/smart.json")), ("haima", include_str!("../../data/policies/haima.json"))];

/// The bundled policies, parsed once.
pub fn bundled() -> &'static BTreeMap<String, Policy> {
    static POLICIES: OnceLock<BTreeMap<String, Policy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        BUNDLED
            .iter()
            .map(|(code, text)| {
                let policy: Policy = serde_json::from_str(text).unwrap_or_else(|e| panic!("bundled policy {code} is malformed: {e}"));
                let standard = crate::domain::standard::find(&policy.standard)
                    .unwrap_or_else(|| panic!("bundled policy {code} names unknown standard {}", policy.standard));
                if let Err(e) = policy.scoring.check().and_then(|()| policy.money.check()) {
                    panic!("bundled policy {code}: {e}");
                }
                if let Some(t) = policy.tiers.iter().find(|t| !standard.tiers.contains_key(&t.code)) {
                    panic!("standard {} says nothing of tier {} of policy {code}", standard.code, t.code);
                }
                ((*code).to_string(), policy)
            })
            .collect()
    })
}

/// A bundled policy by code.
pub fn find(code: &str) -> Option<&'static Policy> {
    bundled().get(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_policies_have_the_tiers_of_the_source() {
        let smart = find("smart").expect("smart");
        assert_eq!(smart.tier("city_partner").map(|t| t.exclusive), Some(Exclusivity::Always));
        let haima = find("haima").expect("haima");
        assert_eq!(haima.tier_codes(), ["regional_core", "regional", "dealer"]);
        assert_eq!(haima.tier("regional").map(|t| t.exclusive), Some(Exclusivity::Optional));
        assert_eq!(haima.sliver_tolerance, SliverTolerance::default());
    }

    #[test]
    fn exclusivity_follows_the_tier() {
        let haima = find("haima").expect("haima");
        let tier = |c| haima.tier(c).expect("tier");
        assert_eq!(haima.resolve_exclusive(tier("regional_core"), None), Ok(true));
        assert!(haima.resolve_exclusive(tier("regional_core"), Some(false)).is_err());
        assert_eq!(haima.resolve_exclusive(tier("regional"), None), Ok(false));
        assert_eq!(haima.resolve_exclusive(tier("regional"), Some(true)), Ok(true));
        assert!(haima.resolve_exclusive(tier("dealer"), Some(true)).is_err());
    }
}
