//! Geodesic measures on the WGS84 ellipsoid (Karney's algorithm, as PROJ/pyproj use).

use geo::{BoundingRect, GeodesicArea, MultiPolygon, Rect};

/// Geodesic area of a MultiPolygon in km², holes subtracted.
pub fn area_km2(mp: &MultiPolygon<f64>) -> f64 {
    mp.0.iter().map(|p| p.geodesic_area_unsigned()).sum::<f64>() / 1e6
}

/// The bounding rectangle, or a degenerate one at the origin for an empty geometry.
pub fn bbox(mp: &MultiPolygon<f64>) -> Rect<f64> {
    mp.bounding_rect()
        .unwrap_or_else(|| Rect::new((0.0, 0.0), (0.0, 0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn one_degree_square_at_equator_is_about_12_364_km2() {
        let sq = MultiPolygon(vec![polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.)]]);
        // pyproj.Geod(ellps="WGS84") gives 12308.778 km² for this square.
        assert!((area_km2(&sq) - 12308.778).abs() < 0.01, "{}", area_km2(&sq));
    }
}
