//! Scores and plans: candidates read from whatever a front end received, scored on the
//! scenario of the network's open outlets (cached until the grid or an outlet changes),
//! each with its territory check for the partner; each caller's last run kept as its own
//! `candidates` layer.

use super::catalog::Catalog;
use super::demand::Demand;
use super::ledger::Ledger;
use super::model::{InForce, Models};
use super::{blocking, lock};
use crate::domain::access::{Caller, Role, Viewer};
use crate::domain::network::Partner;
use crate::domain::outlets::Outlet;
use crate::domain::regions::Level;
use crate::domain::scoring::model::Scenario;
use crate::domain::scoring::network::{
    self as on_network, CandidateInput, ExcludedCandidate, NetworkView, PlanAnswer, ScoreAnswer, ScoredCandidate, candidate_from_feature, candidates_from_csv,
};
use crate::domain::scoring::plan::{Objective, PlanSpec};
use crate::domain::scoring::score::Flag;
use crate::error::{Error, Result};
use crate::geometry::CoordSys;
use crate::input::{InputError, deserialize_located};
use crate::store::Store;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Candidates as they arrived.
#[derive(Debug, Clone, Copy)]
pub enum CandidateSource<'a> {
    /// CSV `id,lon,lat,site_type,format`.
    Csv(&'a str),
    /// JSON text: `{"partner_id"?, "candidates": [...]}` or a GeoJSON FeatureCollection of
    /// Points, read one candidate at a time (never as a whole tree of values).
    Json(&'a [u8]),
}

/// Most candidates one score or plan request takes: scoring takes ~2.7 KB a candidate, so
/// one request's memory stays within 200 MiB (README, Limits).
pub const MAX_CANDIDATES: usize = 50_000;

/// A 422 if there are more than `most` candidates (at most [`MAX_CANDIDATES`]).
pub fn check_candidate_count(count: usize, most: usize) -> Result<()> {
    let most = most.min(MAX_CANDIDATES);
    if count > most {
        return Err(Error::invalid("/candidates", format!("{count} candidates; one request takes at most {most}")));
    }
    Ok(())
}

/// Body of `POST /score` as JSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The partner the candidates are for (its tier's formats; its territory).
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// The candidates.
    pub candidates: Vec<CandidateInput>,
}

/// Reads candidates from any of the forms front ends receive; the partner a JSON body
/// names, if any. Every problem is located.
pub fn read_candidates(source: CandidateSource<'_>) -> Result<(Option<i64>, Vec<CandidateInput>)> {
    match source {
        CandidateSource::Csv(text) => Ok((None, candidates_from_csv(text)?)),
        CandidateSource::Json(json) => candidates_from_json(json),
    }
}

/// Candidates from JSON text, each read as it comes: the features of a FeatureCollection,
/// else the `candidates` of a [`ScoreRequest`].
fn candidates_from_json(json: &[u8]) -> Result<(Option<i64>, Vec<CandidateInput>)> {
    let (mut features, mut listed) = (Collected::default(), Collected::default());
    let others = crate::input::read_object_streaming(json, &["features", "candidates"], &mut |name, i, element| match name {
        "features" => features.add(candidate_from_feature(i, &element)),
        _ => listed.add(deserialize_located(&element).map_err(|e| vec![e.under(&format!("/candidates/{i}"))])),
    })
    .map_err(|e| Error::json(&e))?;
    if others.get("type").and_then(Value::as_str) == Some("FeatureCollection") {
        if !others.contains_key("features") {
            return Err(Error::invalid("/features", "a GeoJSON FeatureCollection of Points is expected"));
        }
        return Ok((None, features.into_result()?));
    }
    // The request's other members, with `candidates` as read (an empty array here).
    let request: ScoreRequest = deserialize_located(&Value::Object(others))?;
    Ok((request.partner_id, listed.into_result()?))
}

/// Items read one at a time, and the problems of those that could not be.
struct Collected<T> {
    items: Vec<T>,
    errors: Vec<InputError>,
}

impl<T> Default for Collected<T> {
    fn default() -> Self {
        Collected { items: Vec::new(), errors: Vec::new() }
    }
}

impl<T> Collected<T> {
    fn add(&mut self, item: std::result::Result<T, Vec<InputError>>) {
        match item {
            Ok(item) => self.items.push(item),
            Err(errors) => self.errors.extend(errors),
        }
    }

    /// The items, or every problem.
    fn into_result(self) -> Result<Vec<T>> {
        if self.errors.is_empty() { Ok(self.items) } else { Err(Error::Invalid(self.errors)) }
    }
}

/// Body of `POST /plan`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The partner the sites are for.
    #[serde(default)]
    pub partner_id: Option<i64>,
    /// How many sites to choose at most.
    pub k: usize,
    /// The candidates.
    pub candidates: Vec<CandidateInput>,
    /// A step is taken only if its objective reaches this (cars for `net_gain`, RMB for
    /// `npv`; default 0).
    #[serde(default)]
    pub min_gain: Option<f64>,
    /// Only candidates the partner may open (inside its grants, outside others' exclusive ones).
    #[serde(default)]
    pub within_territory: bool,
    /// What each step maximises (default `net_gain`).
    #[serde(default)]
    pub objective: Objective,
    /// Most capex of the chosen sites in all, RMB.
    #[serde(default)]
    pub budget: Option<f64>,
    /// Least distance between chosen sites, and from the network's own open sales outlets, km.
    #[serde(default)]
    pub min_spacing_km: Option<f64>,
    /// Site type → least share of the chosen sites, e.g. `{"auto_city": 0.5}`.
    #[serde(default)]
    pub mix: BTreeMap<String, f64>,
    /// The outlets to plan against: `open` (default) or `planned` (with the pipeline).
    #[serde(default)]
    pub network: NetworkView,
}

/// Called after each step of a plan with (steps done, k).
pub type StepProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// How a plan chooses, validated ([`PlanOptions::new`]).
#[derive(Clone)]
pub struct PlanOptions {
    spec: PlanSpec,
    within_territory: bool,
    against: NetworkView,
    progress: Option<StepProgress>,
}

impl PlanOptions {
    /// The options of a request: at most `k` sites (at least one), each worth at least
    /// `min_gain` (finite); a budget and a spacing that are finite and not negative; mix
    /// shares in (0, 1] that sum to at most 1 and that `k` sites can meet. (The mix's site
    /// types are checked against the network's policy when the plan runs.)
    pub fn new(r: &PlanRequest) -> Result<PlanOptions> {
        check_candidate_count(r.candidates.len(), MAX_CANDIDATES)?;
        if r.k == 0 {
            return Err(Error::invalid("/k", "choose at least one site"));
        }
        let min_gain = r.min_gain.unwrap_or(0.0);
        if !min_gain.is_finite() {
            return Err(Error::invalid("/min_gain", "must be a finite number"));
        }
        for (field, v) in [("/budget", r.budget), ("/min_spacing_km", r.min_spacing_km)] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(Error::invalid(field, format!("must be a finite number, not negative; got {v}")));
            }
        }
        for (site_type, share) in &r.mix {
            if !(share.is_finite() && *share > 0.0 && *share <= 1.0) {
                return Err(Error::invalid(format!("/mix/{site_type}"), format!("a share is above 0 and at most 1; got {share}")));
            }
        }
        let total: f64 = r.mix.values().sum();
        if total > 1.0 + 1e-9 {
            return Err(Error::invalid("/mix", format!("the shares sum to {total}; they can sum to 1 at most")));
        }
        let spec = PlanSpec {
            k: r.k,
            min_gain,
            objective: r.objective,
            budget: r.budget,
            min_spacing_km: r.min_spacing_km.filter(|km| *km > 0.0),
            mix: r.mix.clone(),
        };
        if !spec.mix.is_empty() && spec.smallest_mixed_plan(r.k).is_none() {
            let needs = spec.smallest_mixed_plan(100_000).map_or("more than 100,000".to_string(), |m| m.to_string());
            return Err(Error::invalid("/mix", format!("no plan of at most k = {} sites meets this mix; it needs {needs}", r.k)));
        }
        Ok(PlanOptions { spec, within_territory: r.within_territory, against: r.network, progress: None })
    }

    /// Told after each step (the CLI's progress bar).
    pub fn with_progress(self, progress: StepProgress) -> PlanOptions {
        PlanOptions { progress: Some(progress), ..self }
    }
}

/// What a cached scenario was built from: grid version, model version, outlet count, last
/// outlet change, and which outlets.
type ScenarioKey = (i64, i64, i64, Option<String>, NetworkView);

/// A scenario of the network's open outlets under the model in force, with those outlets
/// and that model.
#[derive(Debug, Clone)]
pub struct Network {
    /// The per-cell state.
    pub scenario: Arc<Scenario>,
    /// Every outlet of the network (open and closed, own and competitors').
    pub outlets: Vec<Outlet>,
    /// The model in force.
    pub model: Arc<InForce>,
}

/// Scores and plans.
#[derive(Debug)]
pub struct Scoring {
    store: Store,
    catalog: Arc<Catalog>,
    ledger: Arc<Ledger>,
    demand: Arc<Demand>,
    models: Arc<Models>,
    /// The scenario of each network's current outlets (open, or planned), keyed by grid,
    /// model and outlet state.
    scenarios: Mutex<HashMap<String, (ScenarioKey, Arc<Scenario>)>>,
}

impl Scoring {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>, ledger: Arc<Ledger>, demand: Arc<Demand>, models: Arc<Models>) -> Scoring {
        Scoring { store, catalog, ledger, demand, models, scenarios: Mutex::new(HashMap::new()) }
    }

    /// The scenario of the network's current open outlets on its grid under the model in
    /// force (cached until the grid, the model or an outlet changes).
    pub async fn scenario(&self, network: &str) -> Result<Network> {
        self.scenario_of(network, NetworkView::Open).await
    }

    /// The scenario of the network's open outlets, or of those and its pipeline
    /// (`view`), cached like [`Scoring::scenario`]. The outlets come back as the view
    /// counts them (pipeline ones as open in the planned view).
    pub async fn scenario_of(&self, network: &str, view: NetworkView) -> Result<Network> {
        let (_, policy) = self.catalog.network(network).await?;
        let (info, grid) = self.demand.grid(network).await?;
        let model = self.models.in_force(network).await?;
        let outlets = view.outlets(self.store.list_outlets(network, &Default::default()).await?);
        let key: ScenarioKey = (info.version, model.model.version, outlets.len() as i64, outlets.iter().map(|o| o.updated_at.clone()).max(), view);
        let cache_key = format!("{network}\u{0}{view:?}");
        let cached = lock(&self.scenarios).get(&cache_key).filter(|(k, _)| *k == key).map(|(_, s)| s.clone());
        if let Some(scenario) = cached {
            return Ok(Network { scenario, outlets, model });
        }
        let (for_build, params) = (outlets.clone(), model.clone());
        let scenario = blocking(move || {
            let mut s = Scenario::new(grid, &params.params);
            on_network::add_outlets(&mut s, policy, &params.params, &for_build);
            s
        })
        .await?;
        let scenario = Arc::new(scenario);
        lock(&self.scenarios).insert(cache_key, (key, scenario.clone()));
        Ok(Network { scenario, outlets, model })
    }

    /// The partner a scoring request is for: the one named, or a partner token's own; a
    /// partner token may not name another.
    async fn partner(&self, viewer: Viewer, network: &str, asked: Option<i64>) -> Result<Option<Partner>> {
        let partner_id = viewer.partner_or_own(asked);
        if let Viewer::Partner(_) = viewer {
            viewer.acts_for(partner_id, "this request")?;
        }
        match partner_id {
            Some(id) => Ok(Some(
                self.catalog.partner(network, id).await?.ok_or_else(|| Error::invalid("/partner_id", format!("no partner {id} in network `{network}`")))?,
            )),
            None => Ok(None),
        }
    }

    /// Scores candidates against the network's current outlets (`docs/scoring.md`), each
    /// with its territory check for the partner, and keeps them as the caller's last run
    /// (its `candidates` layer: HQ's, or a partner token's own). Planners and admins.
    pub async fn score(
        &self,
        caller: &Caller,
        network: &str,
        partner_id: Option<i64>,
        inputs: &[CandidateInput],
        sys: CoordSys,
        against: NetworkView,
    ) -> Result<ScoreAnswer> {
        let entered = self.catalog.enter(caller, network, Role::Planner).await?;
        let (policy, viewer) = (entered.policy, entered.viewer);
        let partner = self.partner(viewer, network, partner_id).await?;
        let candidates = on_network::parse_candidates(inputs, policy, sys)?;
        let Network { scenario, model, .. } = self.scenario_of(network, against).await?;
        self.ledger.refresh().await?;
        let (scorer_partner, in_force) = (partner.clone(), model.clone());
        let (scores, total) = blocking(move || {
            let scorer = on_network::scorer(policy, &in_force.params, scorer_partner.as_ref());
            (scorer.score_all(&scenario, &candidates), scenario.own_total())
        })
        .await?;
        let regions = self.catalog.regions();
        let out = {
            let index = self.ledger.index();
            let mut out = Vec::with_capacity(scores.len());
            for score in scores {
                let mut score = score.ok_or_else(|| Error::Internal("a validated candidate could not be scored".into()))?;
                let [lon, lat] = score.location;
                if regions.containing(geo::Point::new(lon, lat), Level::Province).is_none() {
                    score.flag(Flag::OutsideRegions);
                }
                let territory = on_network::territory_check(index.network(network), partner.as_ref(), viewer, score.location);
                out.push(ScoredCandidate { score, territory });
            }
            out
        };
        let answer = ScoreAnswer {
            network: network.to_string(),
            partner_id: partner.map(|p| p.id),
            network_total: total,
            candidates: out,
            model: model.model.clone(),
            against,
        };
        let mut tx = self.store.begin_write().await?;
        crate::store::scoring_runs::replace(&mut tx, &answer, viewer.owner()).await?;
        tx.commit().await?;
        Ok(answer)
    }

    /// Chooses up to `k` candidates greedily under the options' objective and constraints
    /// (docs/scoring.md); with `within_territory`, only those the partner may open (inside
    /// its grants, outside others' exclusive ones). Planners.
    pub async fn plan(
        &self,
        caller: &Caller,
        network: &str,
        partner_id: Option<i64>,
        inputs: &[CandidateInput],
        options: PlanOptions,
        sys: CoordSys,
    ) -> Result<PlanAnswer> {
        let PlanOptions { spec, within_territory, against, progress } = options;
        let entered = self.catalog.enter(caller, network, Role::Planner).await?;
        let (policy, viewer) = (entered.policy, entered.viewer);
        if let Some(unknown) = spec.mix.keys().find(|t| !policy.scoring.site_types.contains_key(*t)) {
            let known: Vec<&String> = policy.scoring.site_types.keys().collect();
            return Err(Error::invalid(format!("/mix/{unknown}"), format!("unknown site type `{unknown}`; site types: {known:?}")));
        }
        let partner = self.partner(viewer, network, partner_id).await?;
        if within_territory && partner.is_none() {
            return Err(Error::invalid("/within_territory", "restricting a plan to a territory needs `partner_id`"));
        }
        let mut candidates = on_network::parse_candidates(inputs, policy, sys)?;
        let mut excluded = Vec::new();
        if within_territory {
            self.ledger.refresh().await?;
            let index = self.ledger.index();
            let (kept, left_out): (Vec<_>, Vec<_>) = candidates
                .into_iter()
                .map(|c| {
                    let t = on_network::territory_check(index.network(network), partner.as_ref(), viewer, [c.lon, c.lat]);
                    (c, t)
                })
                .partition(|(_, t)| t.allowed);
            excluded = left_out.into_iter().map(|(c, territory)| ExcludedCandidate { id: c.id, territory }).collect();
            candidates = kept.into_iter().map(|(c, _)| c).collect();
        }
        let Network { scenario, model, outlets } = self.scenario_of(network, against).await?;
        let planned_for = partner.as_ref().map(|p| p.id);
        let in_force = model.clone();
        let plan = blocking(move || {
            let params = &in_force.params;
            let existing = on_network::existing_sites(policy, params, &outlets);
            let scorer = on_network::scorer(policy, params, partner.as_ref());
            let progress = |done: usize| {
                if let Some(p) = &progress {
                    p(done, spec.k)
                }
            };
            scorer.plan_with((*scenario).clone(), &candidates, &spec, &existing, &progress)
        })
        .await?;
        Ok(PlanAnswer { network: network.to_string(), partner_id: planned_for, plan, excluded, model: model.model.clone(), against })
    }
}
