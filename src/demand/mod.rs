//! Demand grids: H3 cells of one resolution with expected annual purchases, held in
//! memory as compact arrays in a spatial order (latitude bands, then longitude), so the
//! cells within a distance of a point are a few contiguous runs.
//!
//! Per cell the grid keeps the H3 index (8 bytes), the demand (8) and the centre as a unit
//! vector (24): 40 bytes, so a national res-8 grid of ~13 M cells takes ~520 MB.

pub mod input;
pub mod synthesize;

use h3o::{CellIndex, LatLng, Resolution};

/// Height of a latitude band of the spatial order, degrees (about 5.6 km).
const BAND_DEG: f64 = 0.05;

/// A point on the unit sphere.
pub type UnitVector = [f64; 3];

/// The unit vector of a WGS84 position (degrees), treating the Earth as a sphere.
pub fn unit_vector(lon_deg: f64, lat_deg: f64) -> UnitVector {
    let (lat, lon) = (lat_deg.to_radians(), lon_deg.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// Longitude and latitude (degrees) of a unit vector.
pub fn lon_lat(v: &UnitVector) -> (f64, f64) {
    (v[1].atan2(v[0]).to_degrees(), v[2].clamp(-1.0, 1.0).asin().to_degrees())
}

/// Squared chord between two unit vectors.
#[inline]
pub fn chord2(a: &UnitVector, b: &UnitVector) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    dx * dx + dy * dy + dz * dz
}

/// The squared chord of a great-circle distance.
pub fn chord2_of_km(km: f64, radius_km: f64) -> f64 {
    let c = 2.0 * (km / (2.0 * radius_km)).sin();
    c * c
}

/// A demand grid.
#[derive(Debug, Clone)]
pub struct DemandGrid {
    /// Resolution of every cell.
    pub resolution: Resolution,
    /// H3 indexes, in spatial order.
    pub cells: Vec<u64>,
    /// Demand per cell, units/year.
    pub demand: Vec<f64>,
    /// Cell centres as unit vectors.
    pub centres: Vec<UnitVector>,
    /// First latitude band (index of `floor(lat / BAND_DEG)`).
    first_band: i64,
    /// `bands[b]..bands[b + 1]` are the cells of band `first_band + b`, by longitude.
    bands: Vec<usize>,
    /// Sum of the demand.
    pub total: f64,
}

/// The first position in `start..end` where `before` turns false (it must be true, then false).
fn partition(start: usize, end: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (start, end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

fn band_of(lat_deg: f64) -> i64 {
    (lat_deg / BAND_DEG).floor() as i64
}

impl DemandGrid {
    /// Builds a grid from cells of one resolution and their demand (checked by the caller:
    /// see [`input`]). An empty grid has resolution `fallback`.
    pub fn new(mut rows: Vec<(CellIndex, f64)>, fallback: Resolution) -> DemandGrid {
        let resolution = rows.first().map_or(fallback, |(c, _)| c.resolution());
        let mut placed: Vec<(i64, f64, u64, f64, UnitVector)> = rows
            .drain(..)
            .map(|(cell, demand)| {
                let ll = LatLng::from(cell);
                let (lat, lon) = (ll.lat(), ll.lng());
                (band_of(lat), lon, u64::from(cell), demand, unit_vector(lon, lat))
            })
            .collect();
        placed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        let first_band = placed.first().map_or(0, |p| p.0);
        let last_band = placed.last().map_or(-1, |p| p.0);
        let band_count = usize::try_from(last_band - first_band + 1).unwrap_or(0);
        let mut bands = vec![0usize; band_count + 1];
        for p in &placed {
            bands[usize::try_from(p.0 - first_band).unwrap_or(0) + 1] += 1;
        }
        for b in 1..bands.len() {
            bands[b] += bands[b - 1];
        }
        let total = placed.iter().map(|p| p.3).sum();
        DemandGrid {
            resolution,
            cells: placed.iter().map(|p| p.2).collect(),
            demand: placed.iter().map(|p| p.3).collect(),
            centres: placed.iter().map(|p| p.4).collect(),
            first_band,
            bands,
            total,
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the grid has no cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Bytes held by the grid's arrays.
    pub fn heap_bytes(&self) -> usize {
        self.cells.capacity() * 8 + self.demand.capacity() * 8 + self.centres.capacity() * 24 + self.bands.capacity() * 8
    }

    /// Ranges of cell positions that hold every cell whose centre lies within the box
    /// `[min_lon, min_lat, max_lon, max_lat]` (and a few just outside it).
    pub fn ranges_in_box(&self, [min_lon, min_lat, max_lon, max_lat]: [f64; 4]) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        let lo = (band_of(min_lat) - self.first_band).max(0);
        let hi = (band_of(max_lat) - self.first_band).min(self.bands.len() as i64 - 2);
        for b in lo..=hi {
            let b = b as usize;
            let (start, end) = (self.bands[b], self.bands[b + 1]);
            // "west of longitude L" without atan2: the sign of the cross product with L's
            // meridian (exact enough for a box that is widened anyway).
            let (sw, cw) = min_lon.to_radians().sin_cos();
            let (se, ce) = max_lon.to_radians().sin_cos();
            let c = &self.centres;
            let first = partition(start, end, |i| c[i][1] * cw - c[i][0] * sw < 0.0);
            let last = partition(first, end, |i| c[i][1] * ce - c[i][0] * se <= 0.0);
            if first < last {
                out.push(first..last);
            }
        }
        out
    }

    /// Ranges of cell positions holding every cell whose centre is within `km` of `at`
    /// (on a sphere of `radius_km`); callers test each cell exactly.
    pub fn ranges_near(&self, at: &UnitVector, km: f64, radius_km: f64) -> Vec<std::ops::Range<usize>> {
        let (lon, lat) = lon_lat(at);
        let dlat = (km / radius_km).to_degrees();
        let top = (lat.abs() + dlat).min(89.9);
        let dlon = (dlat / top.to_radians().cos()).min(180.0);
        self.ranges_in_box([lon - dlon, lat - dlat, lon + dlon, lat + dlat])
    }
}
