//! Observed sales of a network's own outlets: uploaded as CSV `outlet_id,year,units`
//! (optionally `district`: the buyers' district) or as JSON rows, all or nothing, every bad
//! line named. An outlet's `external_id` may stand for its id. An upload replaces the sales
//! of every year it names.

use super::catalog::Catalog;
use crate::domain::access::{Caller, Role};
use crate::domain::regions::Level;
use crate::error::{Error, Result};
use crate::input::InputError;
use crate::store::Store;
use crate::store::sales::{self as sales_rows};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use crate::store::sales::SalesRow;

/// Sales as they arrived.
#[derive(Debug, Clone, Copy)]
pub enum SalesUpload<'a> {
    /// CSV with a header: `outlet_id` or `external_id`, `year`, `units`, optionally `district`.
    Csv(&'a str),
    /// JSON text: `{"rows": [{"outlet_id"|"external_id", "year", "units", "district"?}]}`,
    /// read straight into rows (no tree of values).
    Json(&'a [u8]),
}

/// One JSON row.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesInput {
    /// The outlet's id ...
    #[serde(default)]
    pub outlet_id: Option<i64>,
    /// ... or its external id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Calendar year.
    pub year: i64,
    /// Cars sold.
    pub units: f64,
    /// The buyers' district (GB/T 2260), if the figure is of one district's buyers.
    #[serde(default)]
    pub district: Option<String>,
}

/// The body of a JSON upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesBody {
    /// The rows.
    pub rows: Vec<SalesInput>,
}

/// What an upload stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SalesStored {
    /// Rows stored.
    pub rows: usize,
    /// Outlets they name.
    pub outlets: usize,
    /// Years replaced.
    pub years: Vec<i64>,
}

/// Observed sales.
#[derive(Debug)]
pub struct Sales {
    store: Store,
    catalog: Arc<Catalog>,
}

impl Sales {
    pub(super) fn new(store: Store, catalog: Arc<Catalog>) -> Sales {
        Sales { store, catalog }
    }

    /// Stores an upload, all or nothing; `source` labels it (`upload`, `synthetic`, ...).
    /// Admins of the network.
    pub async fn upload(&self, caller: &Caller, network: &str, upload: SalesUpload<'_>, source: &str) -> Result<SalesStored> {
        caller.governs(network)?;
        self.catalog.network(network).await?;
        let (inputs, mut errors) = match upload {
            SalesUpload::Csv(text) => from_csv(text),
            SalesUpload::Json(json) => match crate::input::from_json_located::<SalesBody>(json) {
                Ok(b) => (b.rows.into_iter().enumerate().map(|(i, r)| (format!("/rows/{i}"), r)).collect(), vec![]),
                Err(crate::input::JsonError::Invalid(e)) => (vec![], vec![e]),
                Err(malformed) => return Err(malformed.into()),
            },
        };
        let outlets = self.store.list_outlets(network, &Default::default()).await?;
        let by_id: HashMap<i64, &crate::domain::outlets::Outlet> = outlets.iter().map(|o| (o.id, o)).collect();
        let by_external: HashMap<&str, i64> = outlets.iter().filter_map(|o| o.external_id.as_deref().map(|e| (e, o.id))).collect();
        self.catalog.refresh_regions().await?;
        let regions = self.catalog.regions();
        let mut rows = Vec::with_capacity(inputs.len());
        let mut seen = BTreeSet::new();
        for (at, r) in inputs {
            let field = |f: &str| if at.starts_with("line") { format!("{at}, column {f}") } else { format!("{at}/{f}") };
            let outlet = match (r.outlet_id, r.external_id.as_deref()) {
                (Some(id), None) => Some(id),
                (None, Some(e)) => by_external.get(e).copied().or_else(|| {
                    errors.push(InputError::at(field("external_id"), format!("no outlet of network `{network}` has external_id `{e}`")));
                    None
                }),
                _ => {
                    errors.push(InputError::at(field("outlet_id"), "name the outlet by `outlet_id` or by `external_id`, once"));
                    None
                }
            };
            let outlet = outlet.and_then(|id| match by_id.get(&id) {
                Some(o) if o.competitor => {
                    errors.push(InputError::at(field("outlet_id"), format!("outlet {id} is a competitor's; sales are the network's own")));
                    None
                }
                Some(_) => Some(id),
                None => {
                    errors.push(InputError::at(field("outlet_id"), format!("no outlet {id} in network `{network}`")));
                    None
                }
            });
            if !(1900..=2200).contains(&r.year) {
                errors.push(InputError::at(field("year"), format!("{} is not a year", r.year)));
            }
            if !r.units.is_finite() || r.units < 0.0 {
                errors.push(InputError::at(field("units"), format!("{} is not a count of cars (finite, not negative)", r.units)));
            }
            let district = r.district.unwrap_or_default();
            if !district.is_empty() && regions.get(&district).is_none_or(|d| d.level == Level::Province) {
                errors.push(InputError::at(field("district"), format!("`{district}` is not a district or city of the stored regions")));
            }
            if let Some(id) = outlet
                && !seen.insert((id, r.year, district.clone()))
            {
                errors.push(InputError::at(field("outlet_id"), format!("outlet {id} has sales of {} for `{district}` twice", r.year)));
            }
            if let Some(outlet_id) = outlet {
                rows.push(SalesRow { outlet_id, year: r.year, district, units: r.units, source: source.to_string() });
            }
        }
        if rows.is_empty() && errors.is_empty() {
            errors.push(InputError::at("", "the upload holds no sales"));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let mut tx = self.store.begin_write().await?;
        sales_rows::replace_years(&mut tx, network, &rows).await?;
        tx.commit().await?;
        let years: BTreeSet<i64> = rows.iter().map(|r| r.year).collect();
        let outlets: BTreeSet<i64> = rows.iter().map(|r| r.outlet_id).collect();
        Ok(SalesStored { rows: rows.len(), outlets: outlets.len(), years: years.into_iter().collect() })
    }

    /// The network's sales of a year (or all years). Viewers; a partner token its own outlets'.
    pub async fn list(&self, caller: &Caller, network: &str, year: Option<i64>) -> Result<Vec<SalesRow>> {
        let viewer = caller.enter(network, Role::Viewer)?;
        let rows = self.store.sales(network, year).await?;
        if let crate::domain::access::Viewer::Partner(p) = viewer {
            let own: BTreeSet<i64> =
                self.store.list_outlets(network, &Default::default()).await?.into_iter().filter(|o| o.partner_id == Some(p)).map(|o| o.id).collect();
            return Ok(rows.into_iter().filter(|r| own.contains(&r.outlet_id)).collect());
        }
        Ok(rows)
    }
}

/// CSV rows, each located by line; and the lines that could not be read.
fn from_csv(text: &str) -> (Vec<(String, SalesInput)>, Vec<InputError>) {
    let (mut reader, header) = match crate::input::csv_reader(text.as_bytes()) {
        Ok(r) => r,
        Err(e) => return (vec![], vec![e]),
    };
    let col = |n: &str| header.iter().position(|h| h == n);
    let (id, ext, year, units, district) = (col("outlet_id"), col("external_id"), col("year"), col("units"), col("district"));
    if (id.is_none() && ext.is_none()) || year.is_none() || units.is_none() {
        return (vec![], vec![InputError::at("line 1", "the header must name `outlet_id` (or `external_id`), `year` and `units` (optional: `district`)")]);
    }
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (line, record) in crate::input::csv_records(&mut reader) {
        let Ok(record) = record.map_err(|e| errors.push(e)) else { continue };
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty());
        let number = |c: Option<usize>, name: &str, errors: &mut Vec<InputError>| -> Option<f64> {
            let raw = get(c).unwrap_or("");
            raw.parse::<f64>().map_err(|_| errors.push(InputError::at(format!("line {line}, column {name}"), format!("`{raw}` is not a number")))).ok()
        };
        let outlet_id = match get(id) {
            Some(v) => match v.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(InputError::at(format!("line {line}, column outlet_id"), format!("`{v}` is not an outlet id")));
                    continue;
                }
            },
            None => None,
        };
        let (Some(y), Some(u)) = (number(year, "year", &mut errors), number(units, "units", &mut errors)) else { continue };
        if y.fract() != 0.0 {
            errors.push(InputError::at(format!("line {line}, column year"), format!("`{y}` is not a year")));
            continue;
        }
        let input = SalesInput { outlet_id, external_id: get(ext).map(str::to_string), year: y as i64, units: u, district: get(district).map(str::to_string) };
        rows.push((format!("line {line}"), input));
    }
    (rows, errors)
}
