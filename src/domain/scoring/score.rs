//! Scoring candidates (site type comparison, format recommendation) on a [`Scenario`].

use super::ScoringParams;
use super::model::{Evaluation, Reach, Scenario, Site};
use super::money::{Finance, Money};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// A format as the model sees it: its showroom area and the market it is meant for.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatModel {
    /// Format code.
    pub code: String,
    /// Showroom area, m² (`None`: the default).
    pub showroom_m2: Option<f64>,
    /// Least annual sales the format is meant for.
    pub min_sales: Option<f64>,
    /// Whether outlets of the format sell cars (after-sales-only formats are never recommended).
    pub sells: bool,
}

/// What the scorer needs to know besides the scenario.
#[derive(Debug, Clone)]
pub struct Scorer<'p> {
    /// Model parameters.
    pub params: &'p ScoringParams,
    /// What sites cost and earn.
    pub money: &'p Money,
    /// Every format of the standard.
    pub formats: Vec<FormatModel>,
    /// Formats the partner's tier may open (all formats without a partner), in the
    /// standard's order: the candidates for a recommendation.
    pub tier_formats: Vec<String>,
}

/// A candidate site.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Caller's id.
    pub id: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Site type; `None`: compare the policy's `compare_site_types`.
    pub site_type: Option<String>,
    /// Format; `None`: the default showroom, and a recommendation.
    pub format: Option<String>,
}

/// One format tried for a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FormatTrial {
    /// Format code.
    pub format: String,
    /// `S_c` with this format's showroom.
    pub expected_sales: f64,
    /// The format's minimum annual sales.
    pub min_sales: f64,
    /// Whether `expected_sales` reaches it.
    pub meets: bool,
}

/// A candidate scored as one site type.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SiteTypeScore {
    /// The site type scored.
    pub site_type: String,
    /// The figures of docs/scoring.md.
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// With a format: whether `expected_sales` reaches its minimum (`None`: no minimum).
    pub meets_market_size: Option<bool>,
    /// Without a format: the first format (highest minimum first) whose own sales reach
    /// its minimum, or `below_standard`.
    pub recommended_format: Option<String>,
    /// Without a format: each format tried, in order.
    pub format_trials: Option<Vec<FormatTrial>>,
    /// What the site costs and earns with its format (given or recommended; the default
    /// showroom when none suits), selling `expected_sales`.
    #[serde(flatten)]
    pub finance: Finance,
}

/// Why a candidate's figures should not be acted on as they stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// No demand cell lies within its reach (the sea, a desert, outside the grid): it sells
    /// nothing and no format is recommended (`below_standard`).
    NoDemandInReach,
    /// It lies outside every stored region.
    OutsideRegions,
}

/// A candidate's score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CandidateScore {
    /// Caller's id.
    pub id: String,
    /// WGS84 `[lon, lat]`.
    pub location: [f64; 2],
    /// The format given, if any.
    pub format: Option<String>,
    /// The best site type's figures (the given one's, if given).
    #[serde(flatten)]
    pub best: SiteTypeScore,
    /// The site type of `best`.
    pub best_site_type: String,
    /// Without a site type: each compared site type's figures.
    pub by_site_type: Option<BTreeMap<String, SiteTypeScore>>,
    /// Why its figures should not be acted on as they stand (empty: none).
    pub flags: Vec<Flag>,
}

impl CandidateScore {
    /// Marks the candidate with `flag`: no format is recommended for it, at any site type
    /// (`below_standard` where one was).
    pub fn flag(&mut self, flag: Flag) {
        if !self.flags.contains(&flag) {
            self.flags.push(flag);
        }
        for s in std::iter::once(&mut self.best).chain(self.by_site_type.iter_mut().flat_map(|b| b.values_mut())) {
            if s.recommended_format.is_some() {
                s.recommended_format = Some(BELOW_STANDARD.to_string());
            }
        }
    }
}

/// Label of a candidate no format suits.
pub const BELOW_STANDARD: &str = "below_standard";

impl Scorer<'_> {
    pub(super) fn showroom(&self, format: Option<&str>) -> f64 {
        format.and_then(|f| self.formats.iter().find(|m| m.code == f)).and_then(|m| m.showroom_m2).unwrap_or(self.params.default_showroom_m2)
    }

    pub(super) fn site(&self, c: &Candidate, site_type: &str, format: Option<&str>) -> Option<Site> {
        let st = self.params.site_types.get(site_type)?;
        Some(Site::new(self.params, c.lon, c.lat, st, self.showroom(format)))
    }

    /// The formats a recommendation tries: the tier's selling formats, highest minimum
    /// first (a format without one counts as 0, so it is tried last and always suits).
    fn recommendation_order(&self) -> Vec<&FormatModel> {
        let mut order: Vec<&FormatModel> =
            self.tier_formats.iter().filter_map(|code| self.formats.iter().find(|f| &f.code == code)).filter(|f| f.sells).collect();
        order.sort_by(|a, b| b.min_sales.unwrap_or(0.0).total_cmp(&a.min_sales.unwrap_or(0.0)));
        order
    }

    /// Scores a candidate as one site type (which must be one of the policy's).
    pub fn score_as(&self, scenario: &Scenario, c: &Candidate, site_type: &str, reach: &mut Reach) -> Option<SiteTypeScore> {
        let site = self.site(c, site_type, c.format.as_deref())?;
        let evaluation = scenario.evaluate_keeping(&site, reach, c.format.is_none());
        let (meets_market_size, recommended_format, format_trials) = match &c.format {
            Some(f) => {
                let min = self.formats.iter().find(|m| &m.code == f).and_then(|m| m.min_sales);
                (min.map(|m| evaluation.expected_sales >= m), None, None)
            }
            None => {
                let st = &self.params.site_types[site_type];
                let mut trials = Vec::new();
                let mut recommended = BELOW_STANDARD.to_string();
                for f in self.recommendation_order() {
                    let min_sales = f.min_sales.unwrap_or(0.0);
                    let a = f.showroom_m2.unwrap_or(self.params.default_showroom_m2) * st.visibility;
                    let expected_sales = scenario.sales_with(reach, a, st.conversion);
                    let meets = expected_sales >= min_sales;
                    trials.push(FormatTrial { format: f.code.clone(), expected_sales, min_sales, meets });
                    if meets {
                        recommended = f.code.clone();
                        break;
                    }
                }
                (None, Some(recommended), Some(trials))
            }
        };
        // No demand within reach: no format suits, whatever a minimum of 0 would say.
        let recommended_format = recommended_format.map(|f| if evaluation.catchment_demand > 0.0 { f } else { BELOW_STANDARD.to_string() });
        let format = c.format.as_deref().or(recommended_format.as_deref().filter(|f| *f != BELOW_STANDARD));
        let finance = self.money.finance(evaluation.expected_sales, format, site_type, self.showroom(format));
        Some(SiteTypeScore { site_type: site_type.to_string(), evaluation, meets_market_size, recommended_format, format_trials, finance })
    }

    /// Scores a candidate: as its site type, or as each compared site type, the best by
    /// `net_gain` (ties: the first compared). `None` if its site type is unknown.
    pub fn score(&self, scenario: &Scenario, c: &Candidate, reach: &mut Reach) -> Option<CandidateScore> {
        let location = [c.lon, c.lat];
        let flags = |best: &SiteTypeScore| if best.evaluation.catchment_demand > 0.0 { vec![] } else { vec![Flag::NoDemandInReach] };
        if let Some(st) = &c.site_type {
            let best = self.score_as(scenario, c, st, reach)?;
            let flags = flags(&best);
            return Some(CandidateScore { id: c.id.clone(), location, format: c.format.clone(), best_site_type: st.clone(), best, by_site_type: None, flags });
        }
        let mut by = BTreeMap::new();
        let mut best: Option<SiteTypeScore> = None;
        for st in &self.params.compare_site_types {
            let s = self.score_as(scenario, c, st, reach)?;
            if best.as_ref().is_none_or(|b| s.evaluation.net_gain > b.evaluation.net_gain) {
                best = Some(s.clone());
            }
            by.insert(st.clone(), s);
        }
        let best = best?;
        let flags = flags(&best);
        Some(CandidateScore {
            id: c.id.clone(),
            location,
            format: c.format.clone(),
            best_site_type: best.site_type.clone(),
            best,
            by_site_type: Some(by),
            flags,
        })
    }

    /// Scores every candidate independently against the scenario, in parallel. Candidates
    /// are visited in a spatial order (neighbours share the cells they reach, which then
    /// stay in cache); results come back in input order.
    pub fn score_all(&self, scenario: &Scenario, candidates: &[Candidate]) -> Vec<Option<CandidateScore>> {
        let order = spatial_order(candidates.iter().map(|c| (c.lon, c.lat)));
        let deadline = crate::budget::Deadline::current();
        let scored: Vec<(usize, Option<CandidateScore>)> = order
            .par_iter()
            .map_init(Reach::default, |reach, &i| {
                deadline.check();
                (i, self.score(scenario, &candidates[i], reach))
            })
            .collect();
        let mut out = vec![None; candidates.len()];
        for (i, s) in scored {
            out[i] = s;
        }
        out
    }
}

/// Indexes of points sorted into 0.1° latitude rows, west to east within a row (a simple
/// locality order: neighbours in the order are near on the ground).
pub(super) fn spatial_order(points: impl Iterator<Item = (f64, f64)>) -> Vec<usize> {
    let mut keyed: Vec<(i64, f64, usize)> = points.enumerate().map(|(i, (lon, lat))| ((lat * 10.0).floor() as i64, lon, i)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    keyed.into_iter().map(|k| k.2).collect()
}
