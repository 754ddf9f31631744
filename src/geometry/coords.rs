//! Coordinates as input gives them, before any geometry is built: the datum they are in
//! (WGS84, GCJ-02, BD-09), the limits on their number, and the checks of one position and
//! of one ring's count and closure that both readers (`read`, `validate`) share.

use geo::Coord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The datum of input coordinates; everything stored is WGS84.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CoordSys {
    /// WGS84 (GPS, RFC 7946): taken as is.
    #[default]
    Wgs84,
    /// GCJ-02 (Amap, Tencent): converted to WGS84.
    Gcj02,
    /// BD-09 (Baidu): converted to WGS84.
    Bd09,
}

impl CoordSys {
    /// Converts one lon/lat position of this datum to WGS84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            CoordSys::Wgs84 => (lon, lat),
            CoordSys::Gcj02 => coordtransform::gcj02_to_wgs84(lon, lat),
            CoordSys::Bd09 => {
                let (g_lon, g_lat) = coordtransform::bd09_to_gcj02(lon, lat);
                coordtransform::gcj02_to_wgs84(g_lon, g_lat)
            }
        }
    }
}

/// Limits on input geometry size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeometryLimits {
    /// Most vertices accepted in one geometry (all rings together).
    pub max_vertices: usize,
    /// Most rings accepted in one geometry (exteriors and holes of all parts together;
    /// so also most parts).
    pub max_rings: usize,
}

impl Default for GeometryLimits {
    fn default() -> Self {
        GeometryLimits { max_vertices: 200_000, max_rings: 10_000 }
    }
}

impl GeometryLimits {
    /// No limit: for geometry this service wrote or an administrator imports.
    pub const NONE: GeometryLimits = GeometryLimits { max_vertices: usize::MAX, max_rings: usize::MAX };
}

/// Checks one GeoJSON position (two or three finite numbers, longitude in [-180, 180],
/// latitude in [-90, 90]) and converts it from `sys` to WGS84. An error says which number
/// is wrong (`Some(0)` longitude, `Some(1)` latitude) or that the position as a whole is.
pub fn check_position(v: &Value, sys: CoordSys) -> Result<Coord<f64>, (Option<usize>, String)> {
    let Some(arr) = v.as_array() else {
        return Err((None, "a position must be an array [longitude, latitude]".into()));
    };
    if arr.len() < 2 || arr.len() > 3 {
        return Err((None, format!("a position has 2 or 3 numbers, found {}", arr.len())));
    }
    let (Some(lon), Some(lat)) = (arr[0].as_f64(), arr[1].as_f64()) else {
        return Err((None, "longitude and latitude must be numbers".into()));
    };
    check_lon_lat(lon, lat, sys)
}

/// Checks a longitude and latitude (finite, in range) and converts them from `sys` to
/// WGS84; an error says which number is wrong, as [`check_position`]'s does.
pub fn check_lon_lat(lon: f64, lat: f64, sys: CoordSys) -> Result<Coord<f64>, (Option<usize>, String)> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err((None, "coordinates must be finite numbers".into()));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err((Some(0), format!("longitude {lon} is outside [-180, 180]")));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err((Some(1), format!("latitude {lat} is outside [-90, 90]")));
    }
    let (x, y) = sys.to_wgs84(lon, lat);
    Ok(Coord { x, y })
}

/// What is wrong with a linear ring of `positions` positions, `closed` or not, if anything.
pub fn ring_problem(positions: usize, closed: bool) -> Option<String> {
    if positions < 4 {
        Some(format!("a linear ring needs at least 4 positions, found {positions}"))
    } else if !closed {
        Some("the linear ring is not closed: its first and last positions differ".into())
    } else {
        None
    }
}
