//! Geometry: GeoJSON in and out, validation with locations, geodesic measures and the
//! overlap decision that the exclusivity rule rests on.
//!
//! Nothing here touches the database or HTTP, so it can be tested on its own.

pub mod clip;
pub mod coords;
pub mod geojson_io;
pub mod interiors;
pub mod measure;
pub mod overlap;
pub mod read;
pub mod segments;
pub mod validate;

pub use geojson_io::{multipolygon_to_geojson, point_to_geojson, raw_geojson};
pub use measure::area_km2;
pub use overlap::{Overlap, OverlapGeometry, Shape, SliverTolerance, overlap};
pub use read::PreRead;
pub use validate::{CoordSys, GeometryLimits, parse_area, parse_area_text, parse_stored};
