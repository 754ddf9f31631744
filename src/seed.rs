//! Sample data for a fresh database: the bundled region layers and two sample networks
//! (smart city partners in recruiting cities of 2024, a Haima tiered network).

use crate::error::{Error, Result};
use crate::geometry::CoordSys;
use crate::registry::{GrantRequest, Registry};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::path::Path;

/// The region layers, in import order.
pub const LAYERS: [&str; 3] = ["provinces.geojson", "cities.geojson", "districts.geojson"];

/// Reads a GeoJSON file.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::BadRequest(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::BadRequest(format!("{} is not JSON: {e}", path.display())))
}

/// A progress bar over `len` items (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}

/// Imports one region layer file with a progress bar.
pub async fn import_layer(registry: &Registry, path: &Path) -> Result<crate::registry::ImportSummary> {
    let collection = read_json(path)?;
    let n = collection.get("features").and_then(Value::as_array).map_or(0, Vec::len);
    let name = path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
    let bar = progress_bar(n as u64, &name);
    let summary = registry.import_regions(&collection, |i| bar.set_position(i as u64 + 1)).await;
    bar.finish();
    summary
}

/// Loads the bundled sample data into an empty database: regions if there are none,
/// networks if there are none, and (with `demand`) their demand grid synthesised from
/// district population.
pub async fn seed(registry: &Registry, data_dir: &Path, demand: bool) -> Result<()> {
    if registry.store.region_count().await? == 0 {
        for layer in LAYERS {
            let summary = import_layer(registry, &data_dir.join(layer)).await?;
            tracing::info!(layer, stored = summary.stored, "imported sample regions");
        }
    }
    if !registry.store.networks().await?.is_empty() {
        return Ok(());
    }
    let smart = registry.create_network("smart", "smart 城市运营合伙人网络", "smart").await?;
    // City partners in five of the cities named in the March recruitment (DESIGN.md §1).
    let mut shenzhen = 0;
    for (city, adcode) in [("深圳", "440300"), ("武汉", "420100"), ("成都", "510100"), ("九江", "360400"), ("西宁", "630100")] {
        let partner = registry.create_partner(&smart.code, &format!("{city}smart城市合伙人"), "city_partner").await?;
        grant(registry, &smart.code, partner.id, json!({"adcodes": [adcode], "valid_from": "2023-03-15", "note": format!("{city} city partner")})).await?;
        if adcode == "440300" {
            shenzhen = partner.id;
        }
    }
    // The Shenzhen partner also ran Dongguan until the grant was revoked; its Dongguan
    // showroom is left outside its territory (a breach the compliance report shows).
    let dongguan = grant(registry, &smart.code, shenzhen, json!({"adcodes": ["441900"], "valid_from": "2023-03-15", "note": "Dongguan, interim"})).await?;
    import_outlets(registry, &smart.code, &data_dir.join("sample/smart_outlets.geojson"), &[("深圳smart城市合伙人", 1)]).await?;
    registry.revoke(&smart.code, dongguan, "Dongguan goes to a partner of its own").await?;
    let haima = registry.create_network("haima", "海马营销网络", "haima").await?;
    let core = registry.create_partner(&haima.code, "广州海马区域核心经销商", "regional_core").await?;
    grant(registry, &haima.code, core.id, json!({"adcodes": ["440100"], "valid_from": "2024-01-01", "note": "Guangzhou, exclusive"})).await?;
    let regional = registry.create_partner(&haima.code, "长沙海马区域经销商", "regional").await?;
    grant(registry, &haima.code, regional.id, json!({"adcodes": ["430100"], "exclusive": true, "valid_from": "2024-01-01", "valid_to": "2030-12-31", "note": "Changsha, exclusive by contract"})).await?;
    let xiangtan = grant(registry, &haima.code, regional.id, json!({"adcodes": ["430300"], "valid_from": "2024-01-01", "note": "Xiangtan, not exclusive"})).await?;
    grant(registry, &haima.code, regional.id, json!({"adcodes": ["430900"], "valid_from": "2025-01-01", "note": "Yiyang, not exclusive"})).await?;
    let dealer = registry.create_partner(&haima.code, "株洲海马经销商", "dealer").await?;
    grant(registry, &haima.code, dealer.id, json!({"adcodes": ["430200"], "valid_from": "2024-06-01", "note": "Zhuzhou, not exclusive"})).await?;
    let dealer2 = registry.create_partner(&haima.code, "湘潭海马经销商", "dealer").await?;
    grant(registry, &haima.code, dealer2.id, json!({"adcodes": ["430200"], "valid_from": "2024-06-01", "note": "Zhuzhou shared with another dealer"})).await?;
    import_outlets(registry, &haima.code, &data_dir.join("sample/haima_outlets.csv"), &[("广州海马区域核心经销商", 6), ("长沙海马区域经销商", 7), ("株洲海马经销商", 8), ("湘潭海马经销商", 9)]).await?;
    registry.revoke(&haima.code, xiangtan, "Xiangtan not renewed").await?;
    if demand {
        seed_demand(registry, &[&smart.code, &haima.code]).await?;
    }
    tracing::info!("created the sample networks smart and haima");
    Ok(())
}

/// Synthesises the demand grid of the sample area once and gives it to each network.
async fn seed_demand(registry: &Registry, networks: &[&str]) -> Result<()> {
    let Some((first, rest)) = networks.split_first() else { return Ok(()) };
    let bar = progress_bar(0, "demand grid");
    let progress = bar.clone();
    let (info, report) = registry
        .synthesize_demand(first, crate::registry::POPULATION_2010, move |done, total| {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        })
        .await?;
    bar.finish_and_clear();
    tracing::info!(network = first, cells = info.cell_count, total = info.total, districts = report.districts, "synthesized the sample demand grid");
    let (_, grid) = registry.grid(first).await?;
    for network in rest {
        let rows = grid.cells.iter().zip(&grid.demand).filter_map(|(c, d)| h3o::CellIndex::try_from(*c).ok().map(|c| (c, *d))).collect();
        registry.replace_demand(network, rows, &info.source).await?;
    }
    Ok(())
}

async fn grant(registry: &Registry, network: &str, partner_id: i64, mut body: Value) -> Result<i64> {
    body["partner_id"] = json!(partner_id);
    let req: GrantRequest = serde_json::from_value(body.clone()).map_err(|e| Error::Internal(e.to_string()))?;
    let (proposal, policy) = registry.propose(network, &req, CoordSys::Wgs84).await?;
    let request = serde_json::value::to_raw_value(&body).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(registry.grant(&proposal, policy, &request).await?.0.id)
}

/// Imports a sample outlet file whose `partner_id`s are those of a fresh database;
/// `expected` pins each id to its partner's name so a mismatch fails loudly.
async fn import_outlets(registry: &Registry, network: &str, path: &Path, expected: &[(&str, i64)]) -> Result<()> {
    for (name, id) in expected {
        let found = registry.partner(network, *id).await?.map(|p| p.name);
        if found.as_deref() != Some(*name) {
            return Err(Error::Internal(format!("sample outlets expect partner {id} to be {name}, found {found:?}")));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::BadRequest(format!("cannot read {}: {e}", path.display())))?;
    let rows = if path.extension().is_some_and(|e| e == "csv") {
        crate::domain::outlets::rows_from_csv(&text)
    } else {
        crate::domain::outlets::rows_from_geojson(&serde_json::from_str(&text).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?)
    };
    let rows = rows.map_err(Error::Invalid)?;
    let stored = registry.import_outlets(network, &rows, CoordSys::Wgs84).await?;
    tracing::info!(network, outlets = stored.len(), "imported sample outlets");
    Ok(())
}
