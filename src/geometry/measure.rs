//! Areas on the WGS84 ellipsoid.
//!
//! [`area_km2`] maps each vertex to the authalic sphere (the sphere of equal surface area,
//! with latitudes mapped so that areas are preserved exactly) and sums the spherical excess
//! of great-circle edges. Karney's geodesic area (geo's `GeodesicArea`, PROJ, pyproj) solves
//! an inverse geodesic problem per edge, ten times the cost (0.65 vs 0.06 µs a vertex). On
//! map edges the two agree to 2.1e-7 relative at worst on the fixture (10 m² on a 48 km²
//! district with edges of kilometres); the differential test checks every fixture polygon
//! against pyproj to 1e-6. The sliver tolerance is 50,000 m².

use geo::{BoundingRect, LineString, MultiPolygon, Rect};

/// WGS84 semi-major axis, metres.
const A: f64 = 6_378_137.0;
/// WGS84 flattening.
const F: f64 = 1.0 / 298.257_223_563;

/// Constants of the authalic sphere: (e², e, q at the pole, radius² in km²).
fn authalic() -> (f64, f64, f64, f64) {
    static CONSTANTS: std::sync::LazyLock<(f64, f64, f64, f64)> = std::sync::LazyLock::new(|| {
        let e2 = F * (2.0 - F);
        let e = e2.sqrt();
        let qp = q(1.0, e2, e);
        let r2_km2 = (A / 1000.0) * (A / 1000.0) * qp / 2.0;
        (e2, e, qp, r2_km2)
    });
    *CONSTANTS
}

/// Snyder's q(φ) from sin φ: `(1 − e²) (sin φ / (1 − e² sin² φ) + atanh(e sin φ) / e)`,
/// the atanh by its series (`e sin φ ≤ 0.082`: the terms after the 17th power are below
/// 1e-18 of it).
fn q(sin_phi: f64, e2: f64, e: f64) -> f64 {
    let es = e * sin_phi;
    let x2 = es * es;
    let mut series = 1.0 / 17.0;
    for k in (0..8).rev() {
        series = series * x2 + 1.0 / f64::from(2 * k + 1);
    }
    (1.0 - e2) * (sin_phi / (1.0 - e2 * sin_phi * sin_phi) + es * series / e)
}

/// Below this half longitude step (radians, an edge spanning ~1.1° of longitude) an edge's
/// term is computed by series instead of `tan` and `atan2`: the first term they leave out
/// is below 1e-20 of the result.
const SMALL_HALF_STEP: f64 = 0.01;

/// `2 atan2(tan(h) (t1 + t2), 1 + t1 t2)`: the spherical excess of the triangle an edge
/// makes with the pole, from its half longitude step `h` and the `tan(β/2)` of its ends.
fn edge_excess(h: f64, t1: f64, t2: f64) -> f64 {
    if h.abs() >= SMALL_HALF_STEP {
        return 2.0 * (h.tan() * (t1 + t2)).atan2(1.0 + t1 * t2);
    }
    let h2 = h * h;
    let tan_h = h * (1.0 + h2 * (1.0 / 3.0 + h2 * (2.0 / 15.0 + h2 * (17.0 / 315.0 + h2 * (62.0 / 2835.0)))));
    // |t| < 1, so 1 + t1 t2 > 0 and |u| ≤ |tan h|.
    let u = tan_h * (t1 + t2) / (1.0 + t1 * t2);
    let u2 = u * u;
    2.0 * u * (1.0 - u2 * (1.0 / 3.0 - u2 * (1.0 / 5.0 - u2 * (1.0 / 7.0 - u2 * (1.0 / 9.0)))))
}

/// `tan(β/2)` for a latitude in degrees, β the authalic latitude.
fn tan_half_authalic(lat_deg: f64) -> f64 {
    let (e2, e, qp, _) = authalic();
    let sin_beta = (q(lat_deg.to_radians().sin(), e2, e) / qp).clamp(-1.0, 1.0);
    sin_beta / (1.0 + (1.0 - sin_beta * sin_beta).sqrt())
}

/// Signed area of a ring on the authalic sphere in km² (positive counter-clockwise), with
/// `t` giving each latitude's `tan(β/2)`.
fn ring_area_km2(ring: &LineString<f64>, t: &mut impl FnMut(f64) -> f64) -> f64 {
    let (_, _, _, r2) = authalic();
    let mut sum = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    for c in &ring.0 {
        let cur = (c.x.to_radians(), t(c.y));
        if let Some((lon1, t1)) = prev {
            let mut dlon = cur.0 - lon1;
            if dlon > std::f64::consts::PI {
                dlon -= std::f64::consts::TAU;
            } else if dlon < -std::f64::consts::PI {
                dlon += std::f64::consts::TAU;
            }
            sum += edge_excess(dlon / 2.0, t1, cur.1);
        }
        prev = Some(cur);
    }
    sum * r2
}

/// Area of a MultiPolygon on the WGS84 ellipsoid in km², holes subtracted.
pub fn area_km2(mp: &MultiPolygon<f64>) -> f64 {
    area_with(mp, &mut tan_half_authalic)
}

/// [`area_km2`] with `t` giving each latitude's `tan(β/2)`.
fn area_with(mp: &MultiPolygon<f64>, t: &mut impl FnMut(f64) -> f64) -> f64 {
    mp.0.iter().map(|p| ring_area_km2(p.exterior(), t).abs() - p.interiors().iter().map(|h| ring_area_km2(h, t).abs()).sum::<f64>()).sum()
}

/// The `tan(β/2)` of the latitudes of one area's vertices, kept to measure its overlaps:
/// most of a district's overlap with its city is the district's own vertices, and the
/// sine and series of [`tan_half_authalic`] are most of an area's cost. An open-addressing
/// table on the latitude's bits, holding the values as computed: areas come out the same.
#[derive(Debug, Clone)]
pub struct Latitudes {
    /// (latitude bits, `tan(β/2)`); `u64::MAX` marks a free slot (no latitude has those bits).
    slots: Vec<(u64, f64)>,
}

impl Latitudes {
    /// The slot where `bits` is or would go.
    fn slot(&self, bits: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut k = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & mask;
        while self.slots[k].0 != bits && self.slots[k].0 != u64::MAX {
            k = (k + 1) & mask;
        }
        k
    }

    /// `tan(β/2)` for `lat`, kept (computed and kept the first time).
    fn keep(&mut self, lat: f64) -> f64 {
        let k = self.slot(lat.to_bits());
        if self.slots[k].0 != lat.to_bits() {
            self.slots[k] = (lat.to_bits(), tan_half_authalic(lat));
        }
        self.slots[k].1
    }

    /// `tan(β/2)` for `lat`, kept or computed.
    fn get(&self, lat: f64) -> f64 {
        match self.slots[self.slot(lat.to_bits())] {
            (bits, t) if bits == lat.to_bits() => t,
            _ => tan_half_authalic(lat),
        }
    }
}

/// [`area_km2`], keeping the latitudes met for [`area_km2_using`].
pub fn area_km2_keeping(mp: &MultiPolygon<f64>) -> (f64, Latitudes) {
    let vertices = geo::CoordsIter::coords_count(mp);
    let mut kept = Latitudes { slots: vec![(u64::MAX, 0.0); (2 * vertices).next_power_of_two().max(16)] };
    let area = area_with(mp, &mut |lat| kept.keep(lat));
    (area, kept)
}

/// [`area_km2`] of an area whose vertices are mostly among those of `kept`.
pub fn area_km2_using(mp: &MultiPolygon<f64>, kept: &Latitudes) -> f64 {
    area_with(mp, &mut |lat| kept.get(lat))
}

/// The bounding rectangle, or a degenerate one at the origin for an empty geometry.
pub fn bbox(mp: &MultiPolygon<f64>) -> Rect<f64> {
    mp.bounding_rect().unwrap_or_else(|| Rect::new((0.0, 0.0), (0.0, 0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn the_series_agree_with_the_library_functions() {
        let (e2, e, _, _) = authalic();
        for i in -1000..=1000 {
            let sin_phi = f64::from(i) / 1000.0;
            let es = e * sin_phi;
            let exact = (1.0 - e2) * (sin_phi / (1.0 - e2 * sin_phi * sin_phi) - (1.0 / (2.0 * e)) * ((1.0 - es) / (1.0 + es)).ln());
            // q is of order 1; the ln form itself loses a few ulps to cancellation near the
            // equator (the ratio it takes the ln of is close to 1 there).
            let got = q(sin_phi, e2, e);
            assert!((got - exact).abs() <= 2e-15, "q({sin_phi}): {got} vs {exact}");
        }
        for i in -100..=100 {
            let h = f64::from(i) * SMALL_HALF_STEP / 100.0 * 0.999;
            for (t1, t2) in [(0.1, 0.12), (0.5, 0.49), (-0.3, -0.31), (0.95, 0.96), (0.0, 0.01)] {
                let exact = 2.0 * (h.tan() * (t1 + t2)).atan2(1.0 + t1 * t2);
                let got = edge_excess(h, t1, t2);
                assert!((got - exact).abs() <= 1e-15 * exact.abs().max(1e-12), "h {h}, t {t1} {t2}: {got} vs {exact}");
            }
        }
    }

    #[test]
    fn kept_latitudes_give_the_same_areas() {
        let a = MultiPolygon(vec![polygon![(x: 114.0, y: 22.0), (x: 114.1, y: 22.0), (x: 114.1, y: 22.1), (x: 114.0, y: 22.1)]]);
        let b = MultiPolygon(vec![polygon![(x: 114.05, y: 22.0), (x: 114.2, y: 22.05), (x: 114.1, y: 22.1), (x: 114.0, y: 22.3)]]);
        let (area, kept) = area_km2_keeping(&a);
        assert_eq!(area, area_km2(&a));
        assert_eq!(area_km2_using(&a, &kept), area_km2(&a));
        assert_eq!(area_km2_using(&b, &kept), area_km2(&b), "latitudes not kept are computed");
    }

    #[test]
    fn one_degree_square_at_equator_is_about_12_364_km2() {
        let sq = MultiPolygon(vec![polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.)]]);
        // pyproj.Geod(ellps="WGS84") gives 12308.778 km² for this square (geodesic edges);
        // great circles on the authalic sphere bow slightly differently over 111 km edges.
        assert!((area_km2(&sq) - 12308.778).abs() / 12308.778 < 1e-4, "{}", area_km2(&sq));
    }
}
