//! Sample data for a fresh database: the bundled region layers and two sample networks
//! (smart city partners in recruiting cities of 2024, a Haima tiered network).

use super::App;
use super::catalog::{NewNetwork, NewPartner};
use super::ledger::GrantRequest;
use super::sales::SalesUpload;
use crate::domain::access::Caller;
use crate::error::{Error, Result};
use crate::geometry::CoordSys;
use chrono::Datelike;
use serde_json::{Value, json};
use std::path::Path;

/// The region layers, in import order.
pub const LAYERS: [&str; 3] = ["provinces.geojson", "cities.geojson", "districts.geojson"];

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::BadRequest(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::BadRequest(format!("{} is not JSON: {e}", path.display())))
}

/// Loads the bundled sample data into an empty database: regions if there are none,
/// networks if there are none, and (with `demand`) their demand grid synthesised from
/// district population.
pub async fn seed(app: &App, data_dir: &Path, demand: bool) -> Result<()> {
    let cli = Caller::cli();
    if app.store.region_count().await? == 0 {
        for layer in LAYERS {
            let summary = app.catalog.import_regions(&cli, &read_json(&data_dir.join(layer))?, |_| {}).await?;
            tracing::info!(layer, stored = summary.stored, "imported sample regions");
        }
    }
    if !app.store.networks().await?.is_empty() {
        return Ok(());
    }
    let network = |code: &str, name: &str| NewNetwork { code: code.into(), name: name.into(), policy: code.into() };
    let partner = |name: String, tier: &str| NewPartner { name, tier: tier.into(), ..Default::default() };
    let smart = app.catalog.create_network(&cli, &network("smart", "smart 城市运营合伙人网络")).await?;
    // City partners in five of the cities named in the March recruitment (docs/design.md §1).
    let mut shenzhen = 0;
    for (city, adcode) in [("深圳", "440300"), ("武汉", "420100"), ("成都", "510100"), ("九江", "360400"), ("西宁", "630100")] {
        let partner = app.catalog.create_partner(&cli, &smart.code, &partner(format!("{city}smart城市合伙人"), "city_partner")).await?;
        grant(app, &smart.code, partner.id, json!({"adcodes": [adcode], "valid_from": "2023-03-15", "note": format!("{city} city partner")})).await?;
        if adcode == "440300" {
            shenzhen = partner.id;
        }
    }
    // The Shenzhen partner also ran Dongguan until the grant was revoked; its Dongguan
    // showroom is left outside its territory (a breach the compliance report shows).
    let dongguan = grant(app, &smart.code, shenzhen, json!({"adcodes": ["441900"], "valid_from": "2023-03-15", "note": "Dongguan, interim"})).await?;
    import_outlets(app, &smart.code, &data_dir.join("sample/smart_outlets.geojson"), &[("深圳smart城市合伙人", 1)]).await?;
    app.ledger.revoke(&cli, &smart.code, dongguan, "Dongguan goes to a partner of its own", &[]).await?;
    let haima = app.catalog.create_network(&cli, &network("haima", "海马营销网络")).await?;
    let core = app.catalog.create_partner(&cli, &haima.code, &partner("广州海马区域核心经销商".into(), "regional_core")).await?;
    grant(app, &haima.code, core.id, json!({"adcodes": ["440100"], "valid_from": "2024-01-01", "note": "Guangzhou, exclusive"})).await?;
    let regional = app.catalog.create_partner(&cli, &haima.code, &partner("长沙海马区域经销商".into(), "regional")).await?;
    grant(
        app,
        &haima.code,
        regional.id,
        json!({"adcodes": ["430100"], "exclusive": true, "valid_from": "2024-01-01", "valid_to": "2030-12-31", "note": "Changsha, exclusive by contract"}),
    )
    .await?;
    let xiangtan = grant(app, &haima.code, regional.id, json!({"adcodes": ["430300"], "valid_from": "2024-01-01", "note": "Xiangtan, not exclusive"})).await?;
    grant(app, &haima.code, regional.id, json!({"adcodes": ["430900"], "valid_from": "2025-01-01", "note": "Yiyang, not exclusive"})).await?;
    let dealer = app.catalog.create_partner(&cli, &haima.code, &partner("株洲海马经销商".into(), "dealer")).await?;
    grant(app, &haima.code, dealer.id, json!({"adcodes": ["430200"], "valid_from": "2024-06-01", "note": "Zhuzhou, not exclusive"})).await?;
    let dealer2 = app.catalog.create_partner(&cli, &haima.code, &partner("湘潭海马经销商".into(), "dealer")).await?;
    grant(app, &haima.code, dealer2.id, json!({"adcodes": ["430200"], "valid_from": "2024-06-01", "note": "Zhuzhou shared with another dealer"})).await?;
    import_outlets(
        app,
        &haima.code,
        &data_dir.join("sample/haima_outlets.csv"),
        &[("广州海马区域核心经销商", 6), ("长沙海马区域经销商", 7), ("株洲海马经销商", 8), ("湘潭海马经销商", 9)],
    )
    .await?;
    app.ledger.revoke(&cli, &haima.code, xiangtan, "Xiangtan not renewed", &[]).await?;
    if demand {
        seed_demand(app, &[&smart.code, &haima.code]).await?;
        for network in [&smart.code, &haima.code] {
            seed_sales(app, network).await?;
        }
    }
    tracing::info!("created the sample networks smart and haima");
    Ok(())
}

/// The years of the sample sales history.
pub const SALES_YEARS: std::ops::RangeInclusive<i32> = 2023..=2025;

/// A synthetic sales history of the network's own outlets, labelled `synthetic`: for each
/// year of [`SALES_YEARS`], the model in force's sales of each outlet among those open
/// that year, for the months it was open, with Poisson noise (a fixed seed).
async fn seed_sales(app: &App, network: &str) -> Result<()> {
    use crate::domain::scoring::{model::Scenario, network as on_network};
    let (_, policy) = app.catalog.network(network).await?;
    let (_, grid) = app.demand.grid(network).await?;
    let model = app.models.in_force(network).await?;
    let outlets = app.store.list_outlets(network, &Default::default()).await?;
    let history = super::blocking(move || {
        let mut rng = crate::domain::random::SplitMix64(network_seed(policy.code.as_str()));
        let mut rows = Vec::new();
        for year in SALES_YEARS {
            let open: Vec<_> = outlets.iter().filter(|o| o.opened_on.is_none_or(|d| d.year() <= year)).cloned().collect();
            let mut scenario = Scenario::new(grid.clone(), &model.params);
            on_network::add_outlets(&mut scenario, policy, &model.params, &open);
            let mut sales: Vec<(i64, f64)> = on_network::outlet_sales(&scenario, policy, &model.params, &open).into_iter().collect();
            sales.sort_by_key(|(id, _)| *id);
            for (id, expected) in sales {
                let opened = open.iter().find(|o| o.id == id).and_then(|o| o.opened_on);
                let months = opened.filter(|d| d.year() == year).map_or(12, |d| 13 - d.month());
                rows.push(json!({"outlet_id": id, "year": year, "units": rng.poisson(expected * f64::from(months) / 12.0)}));
            }
        }
        rows
    })
    .await?;
    let stored = app
        .sales
        .upload(
            &Caller::cli(),
            network,
            SalesUpload::Json(&serde_json::to_vec(&json!({ "rows": history })).map_err(Error::data("the synthetic sales"))?),
            "synthetic",
        )
        .await?;
    tracing::info!(network, rows = stored.rows, "made a synthetic sales history");
    Ok(())
}

/// A seed of its own for each sample network's synthetic history.
fn network_seed(code: &str) -> u64 {
    code.bytes().fold(0x5EED, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

/// Synthesises the demand grid of the sample area once and gives it to each network.
async fn seed_demand(app: &App, networks: &[&str]) -> Result<()> {
    let Some((first, rest)) = networks.split_first() else { return Ok(()) };
    let cli = Caller::cli();
    let (info, report) = app.demand.synthesize(&cli, first, super::demand::POPULATION_2010, |_, _| {}).await?;
    tracing::info!(network = first, cells = info.cell_count, total = info.total, districts = report.districts, "synthesized the sample demand grid");
    for network in rest {
        app.demand.copy(&cli, first, network).await?;
    }
    Ok(())
}

async fn grant(app: &App, network: &str, partner_id: i64, mut body: Value) -> Result<i64> {
    body["partner_id"] = json!(partner_id);
    let req: GrantRequest = serde_json::from_value(body.clone()).map_err(Error::data("a sample grant"))?;
    let request = serde_json::value::to_raw_value(&body).map_err(Error::data("a sample grant"))?;
    Ok(app.ledger.grant(&Caller::cli(), network, &req, CoordSys::Wgs84, &request).await?.row.id)
}

/// Imports a sample outlet file whose `partner_id`s are those of a fresh database;
/// `expected` pins each id to its partner's name so a mismatch fails loudly.
async fn import_outlets(app: &App, network: &str, path: &Path, expected: &[(&str, i64)]) -> Result<()> {
    for (name, id) in expected {
        let found = app.catalog.partner(network, *id).await?.map(|p| p.name);
        if found.as_deref() != Some(*name) {
            return Err(Error::Internal(format!("sample outlets expect partner {id} to be {name}, found {found:?}")));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::BadRequest(format!("cannot read {}: {e}", path.display())))?;
    let rows = if path.extension().is_some_and(|e| e == "csv") {
        crate::domain::outlets::rows_from_csv(&text)
    } else {
        crate::domain::outlets::rows_from_geojson(&serde_json::from_str(&text).map_err(Error::data(path.display().to_string()))?)
    };
    let rows = rows.map_err(Error::Invalid)?;
    let stored = app.outlets.import(&Caller::cli(), network, &rows, CoordSys::Wgs84).await?;
    tracing::info!(network, outlets = stored.outlets.len(), "imported sample outlets");
    Ok(())
}
