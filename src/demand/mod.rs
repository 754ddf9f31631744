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

/// One cell in this many of each band is sampled for the band searches.
const SAMPLE: usize = 32;

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

/// A meridian, to tell on which side of it a unit vector lies without `atan2`: the sign of
/// the cross product with the meridian's plane (exact enough for ranges that are widened
/// anyway; valid within 180° of longitude).
struct Meridian {
    sin: f64,
    cos: f64,
}

impl Meridian {
    fn new(lon_deg: f64) -> Meridian {
        let (sin, cos) = lon_deg.to_radians().sin_cos();
        Meridian { sin, cos }
    }

    /// Strictly west of the meridian (for a unit vector's `[x, y]`).
    fn has_west_of(&self, v: [f64; 2]) -> bool {
        v[1] * self.cos - v[0] * self.sin < 0.0
    }

    /// West of the meridian or on it (for a unit vector's `[x, y]`).
    fn has_west_of_or_on(&self, v: [f64; 2]) -> bool {
        v[1] * self.cos - v[0] * self.sin <= 0.0
    }
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
    /// `[x, y]` of the centre of every [`SAMPLE`]th cell of each band (from its first):
    /// the searches for a band's run start here, in an array small enough to stay in
    /// cache, instead of probing the cells themselves.
    samples: Vec<[f64; 2]>,
    /// `samples[sample_bands[b]..sample_bands[b + 1]]` are the samples of band `b`.
    sample_bands: Vec<usize>,
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
        let (mut samples, mut sample_bands) = (Vec::new(), vec![0]);
        for b in bands.windows(2) {
            samples.extend((b[0]..b[1]).step_by(SAMPLE).map(|i| [placed[i].4[0], placed[i].4[1]]));
            sample_bands.push(samples.len());
        }
        DemandGrid {
            resolution,
            cells: placed.iter().map(|p| p.2).collect(),
            demand: placed.iter().map(|p| p.3).collect(),
            centres: placed.iter().map(|p| p.4).collect(),
            first_band,
            bands,
            samples,
            sample_bands,
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
            + self.samples.capacity() * 16
            + self.sample_bands.capacity() * 8
    }

    /// Ranges of cell positions that hold every cell whose centre lies within the box
    /// `[min_lon, min_lat, max_lon, max_lat]` (and a few just outside it).
    pub fn ranges_in_box(&self, [min_lon, min_lat, max_lon, max_lat]: [f64; 4]) -> Vec<std::ops::Range<usize>> {
        let (west, east) = (Meridian::new(min_lon), Meridian::new(max_lon));
        self.bands_between(min_lat, max_lat).filter_map(|b| self.run_between(b, &west, &east)).collect()
    }

    /// Positions (into `bands`) of the bands that hold latitudes `min_lat..=max_lat`.
    fn bands_between(&self, min_lat: f64, max_lat: f64) -> impl Iterator<Item = usize> + use<> {
        let lo = (band_of(min_lat) - self.first_band).max(0);
        let hi = (band_of(max_lat) - self.first_band).min(self.bands.len() as i64 - 2);
        (lo..=hi).map(|b| b as usize)
    }

    /// The cells of band `b` (position into `bands`) between two meridians, if any.
    fn run_between(&self, b: usize, west: &Meridian, east: &Meridian) -> Option<std::ops::Range<usize>> {
        let first = self.partition_band(b, |v| west.has_west_of(v));
        let last = self.partition_band(b, |v| east.has_west_of_or_on(v)).max(first);
        (first < last).then_some(first..last)
    }

    /// The first cell of band `b` where `before` (true, then false along the band) turns
    /// false: first among the band's samples, then among the cells since the last sample
    /// for which it held.
    fn partition_band(&self, b: usize, before: impl Fn([f64; 2]) -> bool) -> usize {
        let (start, end) = (self.bands[b], self.bands[b + 1]);
        let k = self.samples[self.sample_bands[b]..self.sample_bands[b + 1]].partition_point(|&s| before(s));
        // Sample k − 1 (cell start + SAMPLE (k − 1)) holds, sample k (if any) does not.
        let lo = if k == 0 { start } else { start + SAMPLE * (k - 1) + 1 };
        let hi = (start + SAMPLE * k).min(end);
        partition(lo, hi, |i| before([self.centres[i][0], self.centres[i][1]]))
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
                self.run_between(b, &Meridian::new(lon - dlon), &Meridian::new(lon + dlon))
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
            for (k, (dlon, dlat, km)) in [(0.0, 0.0, 30.0), (0.13, -0.07, 12.5), (-0.21, 0.17, 45.0), (0.02, 0.31, 5.0), (0.4, 0.0, 60.0)].into_iter().enumerate() {
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
