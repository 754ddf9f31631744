//! Demand grids: H3 cells of one resolution with expected annual purchases, held in
//! memory as compact arrays in a spatial order (latitude bands, then longitude), so the
//! cells within a distance of a point are a few contiguous runs.
//!
//! Per cell the grid keeps the H3 index (8 bytes), the demand (8) and the centre as a unit
//! vector (24): 40 bytes, so a national res-8 grid of ~13 M cells takes ~520 MB.

pub mod input;
pub mod registrations;
pub mod synthesize;

use h3o::{CellIndex, LatLng, Resolution};

/// Height of a latitude band of the spatial order, degrees (about 5.6 km).
const BAND_DEG: f64 = 0.05;

/// Width of the longitude buckets that index each band, degrees (about 1 km: eight res-8
/// cells of a band's height).
const BUCKET_DEG: f64 = 0.01;

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

/// A small circle on the sphere, with what [`Circle::half_width`] needs computed once.
///
/// On a circle of angular radius ρ around latitude φ0, a point at latitude φ lies
/// `Δλ` from the centre's meridian with `cos Δλ = (cos ρ − sin φ0 sin φ) / (cos φ0 cos φ)`;
/// Δλ grows with φ up to the latitude of the tangent meridians, `sin φ* = sin φ0 / cos ρ`,
/// and falls after it, so within a span of latitudes the widest point is φ* clamped to it.
struct Circle {
    sin_lat: f64,
    cos_lat: f64,
    cos_rho: f64,
    /// φ*, degrees; `None` when the circle holds a pole (every longitude).
    widest: Option<f64>,
}

impl Circle {
    /// The circle of angular radius `rho` (radians) around latitude `lat_deg`.
    fn new(lat_deg: f64, rho: f64) -> Circle {
        let phi0 = lat_deg.to_radians();
        let (sin_lat, cos_lat, cos_rho) = (phi0.sin(), phi0.cos(), rho.cos());
        let holds_pole = rho >= std::f64::consts::FRAC_PI_2 - phi0.abs();
        let widest = (!holds_pole).then(|| (sin_lat / cos_rho).clamp(-1.0, 1.0).asin().to_degrees());
        Circle { sin_lat, cos_lat, cos_rho, widest }
    }

    /// The largest longitude difference (degrees) from the centre of the circle's points
    /// whose latitudes lie in `south..=north` (degrees); `None` if it holds a pole.
    fn half_width(&self, south: f64, north: f64) -> Option<f64> {
        let phi = self.widest?.clamp(south, north).to_radians();
        let c = (self.cos_rho - self.sin_lat * phi.sin()) / (self.cos_lat * phi.cos());
        Some(c.clamp(-1.0, 1.0).acos().to_degrees())
    }
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
    /// Per band, the bucket (`floor(lon / BUCKET_DEG)`) of its westernmost cell.
    bucket_base: Vec<i64>,
    /// Per band, where its buckets start in `bucket_starts` (one more entry: the end).
    bucket_offsets: Vec<usize>,
    /// For band `b`'s bucket `j` (`bucket_base[b] + j`): its first cell, counted from the
    /// band's first; each band's list ends with its cell count. A band's run between two
    /// longitudes is then two lookups, no search.
    bucket_starts: Vec<u32>,
    /// Sum of the demand.
    pub total: f64,
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
        let bucket = |lon: f64| (lon / BUCKET_DEG).floor() as i64;
        let (mut bucket_base, mut bucket_offsets, mut bucket_starts) = (Vec::with_capacity(band_count), vec![0], Vec::new());
        for b in bands.windows(2) {
            let cells = &placed[b[0]..b[1]];
            let base = cells.first().map_or(0, |p| bucket(p.1));
            let count = cells.last().map_or(0, |p| bucket(p.1) - base + 1);
            let mut next = 0;
            for j in 0..count {
                while next < cells.len() && bucket(cells[next].1) - base < j {
                    next += 1;
                }
                bucket_starts.push(next as u32);
            }
            bucket_starts.push(cells.len() as u32);
            bucket_base.push(base);
            bucket_offsets.push(bucket_starts.len());
        }
        DemandGrid {
            resolution,
            cells: placed.iter().map(|p| p.2).collect(),
            demand: placed.iter().map(|p| p.3).collect(),
            centres: placed.iter().map(|p| p.4).collect(),
            first_band,
            bands,
            bucket_base,
            bucket_offsets,
            bucket_starts,
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
        self.cells.capacity() * 8
            + self.demand.capacity() * 8
            + self.centres.capacity() * 24
            + self.bands.capacity() * 8
            + self.bucket_base.capacity() * 8
            + self.bucket_offsets.capacity() * 8
            + self.bucket_starts.capacity() * 4
    }

    /// Ranges of cell positions that hold every cell whose centre lies within the box
    /// `[min_lon, min_lat, max_lon, max_lat]` (and a few just outside it).
    pub fn ranges_in_box(&self, [min_lon, min_lat, max_lon, max_lat]: [f64; 4]) -> Vec<std::ops::Range<usize>> {
        self.bands_between(min_lat, max_lat).filter_map(|b| self.run_between(b, min_lon, max_lon)).collect()
    }

    /// Positions (into `bands`) of the bands that hold latitudes `min_lat..=max_lat`.
    fn bands_between(&self, min_lat: f64, max_lat: f64) -> impl Iterator<Item = usize> + use<> {
        let lo = (band_of(min_lat) - self.first_band).max(0);
        let hi = (band_of(max_lat) - self.first_band).min(self.bands.len() as i64 - 2);
        (lo..=hi).map(|b| b as usize)
    }

    /// The cells of band `b` (position into `bands`) whose buckets lie between two
    /// longitudes (degrees), if any: every cell between them, and those of the same
    /// buckets just outside.
    fn run_between(&self, b: usize, west: f64, east: f64) -> Option<std::ops::Range<usize>> {
        let starts = &self.bucket_starts[self.bucket_offsets[b]..self.bucket_offsets[b + 1]];
        let buckets = starts.len() as i64 - 1;
        let at = |lon: f64, after: i64| ((lon / BUCKET_DEG).floor() as i64 - self.bucket_base[b] + after).clamp(0, buckets) as usize;
        let (first, last) = (starts[at(west, 0)] as usize, starts[at(east, 1)] as usize);
        (first < last).then(|| self.bands[b] + first..self.bands[b] + last)
    }

    /// Ranges of cell positions holding every cell whose centre is within `km` of `at`
    /// (on a sphere of `radius_km`); callers test each cell exactly.
    ///
    /// Each latitude band is cut to the longitudes the circle reaches within the band's
    /// latitudes (not the circle's bounding box): a fifth fewer cells to test.
    pub fn ranges_near(&self, at: &UnitVector, km: f64, radius_km: f64) -> Vec<std::ops::Range<usize>> {
        let (lon, lat) = lon_lat(at);
        let rho = km / radius_km;
        let dlat = rho.to_degrees();
        let top = (lat.abs() + dlat).min(89.9);
        let box_dlon = (dlat / top.to_radians().cos()).min(180.0);
        let first_lat = |b: usize| (self.first_band + b as i64) as f64 * BAND_DEG;
        let circle = Circle::new(lat, rho);
        self.bands_between(lat - dlat, lat + dlat)
            .filter_map(|b| {
                let (south, north) = ((first_lat(b)).max(lat - dlat), (first_lat(b) + BAND_DEG).min(lat + dlat));
                let dlon = circle.half_width(south, north).map_or(box_dlon, |d| (d * (1.0 + 1e-9) + 1e-9).min(box_dlon));
                self.run_between(b, lon - dlon, lon + dlon)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Res-7 cells (about 1.2 km apart) within ~60 cells of a point, demand 1 each.
    fn grid_around(lon: f64, lat: f64) -> DemandGrid {
        let centre = LatLng::new(lat, lon).expect("valid").to_cell(Resolution::Seven);
        let rows = centre.grid_disk::<Vec<_>>(60).into_iter().map(|c| (c, 1.0)).collect();
        DemandGrid::new(rows, Resolution::Seven)
    }

    #[test]
    fn ranges_near_hold_every_cell_within_reach_and_no_cell_twice() {
        const R: f64 = 6371.0088;
        for (lon, lat) in [(114.06, 22.54), (116.0, 29.7), (10.0, 62.0), (-70.0, -33.4), (30.0, 0.0)] {
            let grid = grid_around(lon, lat);
            for (k, (dlon, dlat, km)) in
                [(0.0, 0.0, 30.0), (0.13, -0.07, 12.5), (-0.21, 0.17, 45.0), (0.02, 0.31, 5.0), (0.4, 0.0, 60.0)].into_iter().enumerate()
            {
                let at = unit_vector(lon + dlon, lat + dlat);
                let limit = chord2_of_km(km, R);
                let ranges = grid.ranges_near(&at, km, R);
                let mut listed = vec![false; grid.len()];
                for i in ranges.into_iter().flatten() {
                    assert!(!listed[i], "cell {i} listed twice");
                    listed[i] = true;
                }
                let within: Vec<usize> = (0..grid.len()).filter(|&i| chord2(&at, &grid.centres[i]) <= limit).collect();
                assert!(within.len() > 10, "case {k} at {lon},{lat}: too few cells to test");
                let missed: Vec<usize> = within.iter().copied().filter(|&i| !listed[i]).collect();
                assert!(missed.is_empty(), "case {k} at {lon},{lat}: {} of {} cells within {km} km missed", missed.len(), within.len());
                let visited = listed.iter().filter(|&&l| l).count();
                if km >= 20.0 {
                    // The bounding box would visit 4/π of the circle's cells.
                    assert!(visited * 10 < within.len() * 12, "case {k}: {visited} visited for {} within: not cut to the circle", within.len());
                }
            }
        }
    }
}
