//! GIS interop: every layer of the service as GeoJSON, GeoPackage, OGC API – Features
//! items and Mapbox vector tiles, all from one [`layer::Layer`] model.
//!
//! Collection ids are `regions` and `{net}.{layer}` (e.g. `smart.grants`); the same ids
//! name the tile layers. The application's `app::gis` builds each layer from the services
//! and caches it until the data behind it changes.

pub mod geojson;
pub mod gpkg;
pub mod layer;
pub mod tiles;

use std::fmt;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 7946 GeoJSON.
    GeoJson,
    /// OGC GeoPackage 1.3.
    GeoPackage,
}

impl ExportFormat {
    /// Parses a file extension (`geojson`, `json`, `gpkg`).
    pub fn parse(ext: &str) -> Option<ExportFormat> {
        match ext {
            "geojson" | "json" => Some(ExportFormat::GeoJson),
            "gpkg" => Some(ExportFormat::GeoPackage),
            _ => None,
        }
    }
}

/// The per-network layers, in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkLayer {
    /// Grants (territories), active and revoked.
    Grants,
    /// Outlets, own and competitors', open and closed.
    Outlets,
    /// Demand cells (H3 hexagons).
    Demand,
    /// Overlaps between stored active grants that break exclusivity.
    Conflicts,
    /// The candidates of the last scoring run.
    Candidates,
}

impl NetworkLayer {
    /// Every network layer.
    pub const ALL: [NetworkLayer; 5] = [NetworkLayer::Grants, NetworkLayer::Outlets, NetworkLayer::Demand, NetworkLayer::Conflicts, NetworkLayer::Candidates];

    /// Its name in collection ids and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkLayer::Grants => "grants",
            NetworkLayer::Outlets => "outlets",
            NetworkLayer::Demand => "demand",
            NetworkLayer::Conflicts => "conflicts",
            NetworkLayer::Candidates => "candidates",
        }
    }

    /// Parses a layer name.
    pub fn parse(s: &str) -> Option<NetworkLayer> {
        NetworkLayer::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// A collection: the shared regions, or one layer of a network.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Provinces, cities and districts.
    Regions,
    /// A layer of a network.
    Network(String, NetworkLayer),
}

impl Collection {
    /// Parses `regions` or `{net}.{layer}`; `None` if the shape is wrong (the network is
    /// not looked up).
    pub fn parse(id: &str) -> Option<Collection> {
        if id == "regions" {
            return Some(Collection::Regions);
        }
        let (net, layer) = id.split_once('.')?;
        (!net.is_empty()).then_some(())?;
        Some(Collection::Network(net.to_string(), NetworkLayer::parse(layer)?))
    }

    /// The layer's short name (`regions`, `grants`, ...): the MVT layer name.
    pub fn layer_name(&self) -> &'static str {
        match self {
            Collection::Regions => "regions",
            Collection::Network(_, l) => l.as_str(),
        }
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Collection::Regions => f.write_str("regions"),
            Collection::Network(net, layer) => write!(f, "{net}.{}", layer.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_ids_round_trip() {
        for id in ["regions", "smart.grants", "haima.demand", "a.candidates"] {
            assert_eq!(Collection::parse(id).map(|c| c.to_string()).as_deref(), Some(id));
        }
        for bad in ["", "smart", "smart.", ".grants", "smart.roads"] {
            assert_eq!(Collection::parse(bad), None, "{bad}");
        }
    }
}
