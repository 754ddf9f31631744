//! Format standards: per brand, the outlet formats a network may open, the market each is
//! meant for (annual sales), the facility each must have, and which tier may open which.
//! Each standard is a readable file in `data/standards/`, named by a network's policy
//! (`"standard": "haima"`), so a brand can ship its own.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Facility figures of an outlet, or the minima of a format: one optional number per
/// figure. The keys are the API's (`facility` of an outlet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Facility {
    /// Land area, m².
    pub land_m2: Option<f64>,
    /// Building area, m².
    pub building_m2: Option<f64>,
    /// Showroom area, m².
    pub showroom_m2: Option<f64>,
    /// Street frontage, m.
    pub frontage_m: Option<f64>,
    /// Depth, m.
    pub depth_m: Option<f64>,
    /// Clear height, m.
    pub height_m: Option<f64>,
    /// Workshop area, m².
    pub workshop_m2: Option<f64>,
    /// Mechanical service bays.
    pub bays_mech: Option<f64>,
    /// Body-repair bays.
    pub bays_body: Option<f64>,
    /// Paint bays.
    pub bays_paint: Option<f64>,
    /// Paint booths.
    pub paint_booths: Option<f64>,
    /// Parts store, m².
    pub parts_m2: Option<f64>,
    /// Staff, persons.
    pub staff: Option<f64>,
}

/// Figures that count things (bays, booths, people) and must be whole numbers.
pub const COUNT_FIGURES: [&str; 5] = ["bays_mech", "bays_body", "bays_paint", "paint_booths", "staff"];

impl Facility {
    /// The figures' keys, in API order.
    pub const KEYS: [&'static str; 13] = [
        "land_m2",
        "building_m2",
        "showroom_m2",
        "frontage_m",
        "depth_m",
        "height_m",
        "workshop_m2",
        "bays_mech",
        "bays_body",
        "bays_paint",
        "paint_booths",
        "parts_m2",
        "staff",
    ];

    /// Every figure with its key, in API order.
    pub fn figures(&self) -> [(&'static str, Option<f64>); 13] {
        let values = [
            self.land_m2,
            self.building_m2,
            self.showroom_m2,
            self.frontage_m,
            self.depth_m,
            self.height_m,
            self.workshop_m2,
            self.bays_mech,
            self.bays_body,
            self.bays_paint,
            self.paint_booths,
            self.parts_m2,
            self.staff,
        ];
        std::array::from_fn(|i| (Self::KEYS[i], values[i]))
    }
}

/// A range of annual unit sales; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesRange {
    /// Least annual sales the format is meant for.
    pub min: Option<f64>,
    /// Most annual sales the format is meant for.
    pub max: Option<f64>,
}

impl SalesRange {
    /// Whether `sales` lies in the range (open ends accept anything).
    pub fn contains(&self, sales: f64) -> bool {
        self.min.is_none_or(|m| sales >= m) && self.max.is_none_or(|m| sales <= m)
    }
}

/// An outlet role: what the site does.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Code used in the API (`sales_service`, `sales_touchpoint`, ...).
    pub code: String,
    /// English name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// Whether outlets of this role sell cars (and so draw demand in the scoring model).
    pub sells: bool,
}

/// Recommended head count for one job at a format.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Staffing {
    /// Job code.
    pub role: String,
    /// Chinese job title.
    #[serde(default)]
    pub role_zh: String,
    /// Persons.
    pub count: Option<f64>,
}

/// A range of money, RMB.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostRange {
    /// Lowest figure, RMB.
    pub min: f64,
    /// Highest figure, RMB.
    pub max: f64,
}

/// One outlet format of a standard.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Format {
    /// Code used in the API (`flagship`, `light_showroom`, ...).
    pub code: String,
    /// English name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// Roles an outlet of this format may have; the first is the default.
    pub roles: Vec<String>,
    /// Whether the format may open only in a city that already has an anchor format.
    #[serde(default)]
    pub needs_anchor: bool,
    /// The market the format is meant for.
    #[serde(default)]
    pub annual_sales: SalesRange,
    /// Facility minima (absent: no requirement).
    #[serde(default)]
    pub minima: Facility,
    /// Other bays the standard lists (wash, tyre, alignment, ...).
    #[serde(default)]
    pub other_bays: BTreeMap<String, f64>,
    /// Whether after-sales (workshop, bays, parts) may be shared with other brands.
    #[serde(default)]
    pub shared_after_sales: bool,
    /// Recommended staffing by job.
    #[serde(default)]
    pub staffing: Vec<Staffing>,
    /// Start-up cost, RMB.
    #[serde(default)]
    pub startup_cost_rmb: Option<CostRange>,
    /// Days to approve a new outlet.
    #[serde(default)]
    pub approval_days: Option<u32>,
    /// Days to build a new outlet.
    #[serde(default)]
    pub build_days: Option<u32>,
    /// Notes on the source (contradictions, gaps).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A brand's format standard.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Standard {
    /// Code, as named by policies.
    pub code: String,
    /// Human name.
    pub name: String,
    /// Where the figures come from.
    pub source: String,
    /// How the file was built.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Formats a `needs_anchor` format needs in its city first.
    #[serde(default)]
    pub anchor_formats: Vec<String>,
    /// Tier code → the formats partners of that tier may open.
    pub tiers: BTreeMap<String, Vec<String>>,
    /// Outlet roles.
    pub roles: Vec<Role>,
    /// Outlet formats.
    pub formats: Vec<Format>,
}

impl Standard {
    /// The format with this code.
    pub fn format(&self, code: &str) -> Option<&Format> {
        self.formats.iter().find(|f| f.code == code)
    }

    /// The role with this code.
    pub fn role(&self, code: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.code == code)
    }

    /// Format codes, for error messages.
    pub fn format_codes(&self) -> Vec<&str> {
        self.formats.iter().map(|f| f.code.as_str()).collect()
    }

    /// Formats partners of a tier may open (empty for an unknown tier).
    pub fn formats_for_tier(&self, tier: &str) -> &[String] {
        self.tiers.get(tier).map_or(&[], Vec::as_slice)
    }

    /// Checks the file's internal references: every format named by a tier or as an
    /// anchor exists, every role a format names exists.
    pub fn check(&self) -> Result<(), String> {
        let named = self.tiers.values().flatten().chain(&self.anchor_formats);
        if let Some(unknown) = named.into_iter().find(|f| self.format(f).is_none()) {
            return Err(format!("names unknown format `{unknown}`"));
        }
        for f in &self.formats {
            if f.roles.is_empty() {
                return Err(format!("format `{}` lists no role", f.code));
            }
            if let Some(r) = f.roles.iter().find(|r| self.role(r).is_none()) {
                return Err(format!("format `{}` names unknown role `{r}`", f.code));
            }
        }
        Ok(())
    }
}

const BUNDLED: &[(&str, &str)] = &[("smart", include_str!("../../data/standards/smart.json")), ("haima", include_str!("../../data/standards/haima.json"))];

/// The bundled standards, parsed and checked once.
pub fn bundled() -> &'static BTreeMap<String, Standard> {
    static STANDARDS: OnceLock<BTreeMap<String, Standard>> = OnceLock::new();
    STANDARDS.get_or_init(|| {
        BUNDLED
            .iter()
            .map(|(code, text)| {
                let standard: Standard = serde_json::from_str(text).unwrap_or_else(|e| panic!("bundled standard {code} is malformed: {e}"));
                if let Err(e) = standard.check() {
                    panic!("bundled standard {code} {e}");
                }
                ((*code).to_string(), standard)
            })
            .collect()
    })
}

/// A bundled standard by code.
pub fn find(code: &str) -> Option<&'static Standard> {
    bundled().get(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_haima_standard_has_the_figures_of_the_source_table() {
        let haima = find("haima").expect("haima");
        let flagship = haima.format("flagship").expect("flagship");
        assert_eq!(flagship.annual_sales, SalesRange { min: Some(1200.0), max: None });
        assert_eq!(flagship.minima.showroom_m2, Some(450.0));
        assert_eq!(flagship.minima.frontage_m, Some(30.0));
        assert_eq!(flagship.minima.land_m2, Some(2774.0));
        assert_eq!(flagship.minima.height_m, Some(6.8));
        // The overview's 8 mechanical bays are the standard; the detail table's 10 is noted.
        assert_eq!(flagship.minima.bays_mech, Some(8.0));
        assert!(flagship.notes.iter().any(|n| n.contains("10")), "{:?}", flagship.notes);
        let elite = haima.format("elite").expect("elite");
        assert_eq!(elite.annual_sales, SalesRange { min: Some(600.0), max: Some(800.0) });
        assert_eq!((elite.minima.bays_mech, elite.minima.bays_body, elite.minima.bays_paint), (Some(6.0), Some(3.0), Some(3.0)));
        let quick = haima.format("quick_service").expect("quick_service");
        assert_eq!(quick.minima.frontage_m, Some(28.0));
        assert_eq!(quick.other_bays.get("wash"), Some(&2.0));
        assert!(quick.needs_anchor && haima.format("city_showroom").is_some_and(|f| f.needs_anchor));
        assert!(haima.format("function").is_some_and(|f| f.shared_after_sales));
        assert_eq!(haima.formats_for_tier("dealer"), ["elite", "function"]);
        assert!(!haima.formats_for_tier("regional").contains(&"flagship".to_string()));
        assert_eq!(haima.formats_for_tier("regional_core").len(), 6);
    }

    #[test]
    fn the_smart_standard_has_light_showrooms_in_two_roles() {
        let smart = find("smart").expect("smart");
        let f = smart.format("light_showroom").expect("light_showroom");
        assert_eq!(f.roles, ["sales_touchpoint", "delivery_node"]);
        assert_eq!((f.approval_days, f.build_days), (Some(30), Some(45)));
        assert!(f.startup_cost_rmb.is_some_and(|c| c.min == 250_000.0 && c.max == 500_000.0));
        assert!(smart.role("sales_touchpoint").is_some_and(|r| r.sells) && smart.role("delivery_node").is_some_and(|r| !r.sells));
    }
}
