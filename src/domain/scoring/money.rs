//! Money (docs/scoring.md, "Money"): what a site costs and earns, from the policy's `money`
//! section, so that candidates and plans can be compared in RMB as well as in cars.
//!
//! ```text
//! annual_contribution = sales × margin_per_unit − rent_m2_year × showroom_m2 − fixed_opex_year
//! payback_years       = capex / annual_contribution      (none if the contribution ≤ 0)
//! npv                 = −capex + Σ_{t=1..horizon} annual_contribution / (1 + rate)^t
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Costs of a site type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteTypeMoney {
    /// Rent per m² of showroom a year, RMB.
    pub rent_m2_year: f64,
    /// Capital cost of a site of this type when its format names none, RMB.
    pub capex: f64,
}

/// Costs of a format, where they differ from its site type's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormatMoney {
    /// Capital cost, RMB (instead of the site type's).
    #[serde(default)]
    pub capex: Option<f64>,
    /// Fixed operating cost a year (staff, utilities), RMB (instead of the default).
    #[serde(default)]
    pub fixed_opex_year: Option<f64>,
}

/// The money section of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// What one car sold earns the network, RMB.
    pub margin_per_unit: f64,
    /// Years an investment is judged over.
    pub horizon_years: u32,
    /// Yearly discount rate of the net present value.
    pub discount_rate: f64,
    /// Fixed operating cost a year of a format that names none, RMB.
    pub fixed_opex_year: f64,
    /// Site type code → its costs.
    pub site_types: BTreeMap<String, SiteTypeMoney>,
    /// Format code → its costs.
    #[serde(default)]
    pub formats: BTreeMap<String, FormatMoney>,
    /// Where the figures come from.
    #[serde(default)]
    pub note: String,
}

/// What a site costs and earns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Finance {
    /// Capital cost, RMB.
    pub capex: f64,
    /// Yearly contribution: margin on the sales less rent and fixed costs, RMB.
    pub annual_contribution: f64,
    /// Years to earn the capital back (none if the contribution is not positive).
    pub payback_years: Option<f64>,
    /// Net present value over the horizon, RMB.
    pub npv: f64,
}

impl Money {
    /// Checks the figures: finite, not negative, a rate above -1.
    pub fn check(&self) -> Result<(), String> {
        let mut figures = vec![("margin_per_unit", self.margin_per_unit), ("fixed_opex_year", self.fixed_opex_year)];
        for (code, st) in &self.site_types {
            figures.push((code, st.rent_m2_year));
            figures.push((code, st.capex));
        }
        for (code, f) in &self.formats {
            figures.extend(f.capex.iter().chain(f.fixed_opex_year.iter()).map(|v| (code.as_str(), *v)));
        }
        if let Some((what, v)) = figures.into_iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
            return Err(format!("money: `{what}` has {v}; figures are finite and not negative"));
        }
        if !(self.discount_rate > -1.0 && self.discount_rate.is_finite()) {
            return Err(format!("money: discount_rate {} must be above -1", self.discount_rate));
        }
        Ok(())
    }

    /// Capital cost of a site: its format's, else its site type's (0 for a site type
    /// without figures).
    pub fn capex(&self, format: Option<&str>, site_type: &str) -> f64 {
        format.and_then(|f| self.formats.get(f)).and_then(|f| f.capex).or_else(|| self.site_types.get(site_type).map(|s| s.capex)).unwrap_or(0.0)
    }

    /// Σ_{t=1..horizon} 1 / (1 + rate)^t: the value today of one RMB a year.
    pub fn annuity(&self) -> f64 {
        (1..=self.horizon_years).map(|t| (1.0 + self.discount_rate).powi(-(t as i32))).sum()
    }

    /// Yearly cost of running a site whatever it sells: rent of its showroom and fixed costs.
    pub fn running_cost(&self, format: Option<&str>, site_type: &str, showroom_m2: f64) -> f64 {
        let rent = self.site_types.get(site_type).map_or(0.0, |s| s.rent_m2_year) * showroom_m2;
        let fixed = format.and_then(|f| self.formats.get(f)).and_then(|f| f.fixed_opex_year).unwrap_or(self.fixed_opex_year);
        rent + fixed
    }

    /// The finance of a site that sells `units` a year.
    pub fn finance(&self, units: f64, format: Option<&str>, site_type: &str, showroom_m2: f64) -> Finance {
        let capex = self.capex(format, site_type);
        let annual_contribution = units * self.margin_per_unit - self.running_cost(format, site_type, showroom_m2);
        let payback_years = (annual_contribution > 0.0).then(|| capex / annual_contribution);
        Finance { capex, annual_contribution, payback_years, npv: -capex + annual_contribution * self.annuity() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money() -> Money {
        Money {
            margin_per_unit: 10_000.0,
            horizon_years: 2,
            discount_rate: 0.1,
            fixed_opex_year: 100_000.0,
            site_types: [("mall".to_string(), SiteTypeMoney { rent_m2_year: 1_000.0, capex: 500_000.0 })].into(),
            formats: [("big".to_string(), FormatMoney { capex: Some(2_000_000.0), fixed_opex_year: Some(300_000.0) })].into(),
            note: String::new(),
        }
    }

    #[test]
    fn a_site_is_valued_by_hand() {
        let m = money();
        // 100 cars: 1,000,000 − 300 m² × 1,000 − 100,000 = 600,000 a year.
        let f = m.finance(100.0, None, "mall", 300.0);
        assert_eq!((f.capex, f.annual_contribution), (500_000.0, 600_000.0));
        assert!((f.payback_years.expect("pays back") - 500_000.0 / 600_000.0).abs() < 1e-12);
        let npv = -500_000.0 + 600_000.0 / 1.1 + 600_000.0 / 1.21;
        assert!((f.npv - npv).abs() < 1e-6, "{} vs {npv}", f.npv);
        // A format's own figures replace the site type's capex and the default opex.
        let big = m.finance(100.0, Some("big"), "mall", 300.0);
        assert_eq!((big.capex, big.annual_contribution), (2_000_000.0, 400_000.0));
        // Losing money: no payback.
        assert_eq!(m.finance(10.0, None, "mall", 300.0).payback_years, None);
    }
}
