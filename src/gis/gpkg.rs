//! Layers as GeoPackage 1.3 files: one feature table in EPSG:4326 with typed columns,
//! GeoPackage binary geometries (geozero's GP header + WKB), and the R-tree spatial index
//! extension with the triggers GDAL and QGIS expect, so the file stays indexed when edited.

use super::layer::{FieldValue, Layer};
use crate::error::{Error, Result};
use geo::Geometry;
use geozero::{CoordDimensions, ToWkb};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, SqliteConnection};
use std::path::Path;

/// Media type of a GeoPackage.
pub const GEOPACKAGE: &str = "application/geopackage+sqlite3";

/// `application_id` of a GeoPackage ("GPKG").
const APPLICATION_ID: i64 = 0x4750_4B47;
/// `user_version` of GeoPackage 1.3.0 (10400 makes GDAL 3.6 warn).
const USER_VERSION: i64 = 10300;

const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

const CORE_TABLES: &str = r#"
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
"#;

/// The table name of a layer in a GeoPackage: its collection id with `.` as `_`
/// (`smart.grants` → `smart_grants`).
pub fn table_name(layer: &Layer) -> String {
    layer.id.replace(['.', '-'], "_")
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The R-tree triggers of the GeoPackage spatial index extension (spec 1.3, F.3).
fn rtree_triggers(t: &str, c: &str) -> Vec<String> {
    let rt = format!("rtree_{t}_{c}");
    let (tq, cq, rq) = (quote(t), quote(c), quote(&rt));
    let ins = |prefix: &str| {
        format!(
            "INSERT OR REPLACE INTO {rq} VALUES ({prefix}.fid, ST_MinX({prefix}.{cq}), ST_MaxX({prefix}.{cq}), ST_MinY({prefix}.{cq}), ST_MaxY({prefix}.{cq}))"
        )
    };
    vec![
        format!(
            "CREATE TRIGGER {} AFTER INSERT ON {tq} WHEN (new.{cq} NOT NULL AND NOT ST_IsEmpty(NEW.{cq})) BEGIN {}; END",
            quote(&format!("{rt}_insert")),
            ins("NEW")
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE OF {cq} ON {tq} WHEN OLD.fid = NEW.fid AND (NEW.{cq} NOTNULL AND NOT ST_IsEmpty(NEW.{cq})) BEGIN {}; END",
            quote(&format!("{rt}_update1")),
            ins("NEW")
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE OF {cq} ON {tq} WHEN OLD.fid = NEW.fid AND (NEW.{cq} ISNULL OR ST_IsEmpty(NEW.{cq})) BEGIN DELETE FROM {rq} WHERE id = OLD.fid; END",
            quote(&format!("{rt}_update2"))
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE ON {tq} WHEN OLD.fid != NEW.fid AND (NEW.{cq} NOTNULL AND NOT ST_IsEmpty(NEW.{cq})) BEGIN DELETE FROM {rq} WHERE id = OLD.fid; {}; END",
            quote(&format!("{rt}_update3")),
            ins("NEW")
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE ON {tq} WHEN OLD.fid != NEW.fid AND (NEW.{cq} ISNULL OR ST_IsEmpty(NEW.{cq})) BEGIN DELETE FROM {rq} WHERE id IN (OLD.fid, NEW.fid); END",
            quote(&format!("{rt}_update4"))
        ),
        format!("CREATE TRIGGER {} AFTER DELETE ON {tq} WHEN old.{cq} NOT NULL BEGIN DELETE FROM {rq} WHERE id = OLD.fid; END", quote(&format!("{rt}_delete"))),
    ]
}

fn gpkg_geometry(g: &Geometry<f64>, bbox: &geo::Rect<f64>) -> Result<Vec<u8>> {
    let envelope = match g {
        Geometry::Point(_) => Vec::new(),
        _ => vec![bbox.min().x, bbox.max().x, bbox.min().y, bbox.max().y],
    };
    g.to_gpkg_wkb(CoordDimensions::xy(), Some(4326), envelope).map_err(Error::data("a GeoPackage geometry"))
}

async fn exec(conn: &mut SqliteConnection, sql: String) -> Result<()> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    Ok(())
}

/// Writes the features of `layer` at `positions` to a new GeoPackage at `path` (which
/// must not exist). `on_row` is called after each feature (for a progress bar).
pub async fn write(layer: &Layer, positions: &[usize], path: &Path, mut on_row: impl FnMut(usize)) -> Result<()> {
    if path.exists() {
        return Err(Error::invalid("/output", format!("{} exists already", path.display())));
    }
    let options =
        SqliteConnectOptions::new().filename(path).create_if_missing(true).journal_mode(SqliteJournalMode::Delete).synchronous(SqliteSynchronous::Off);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    exec(&mut conn, format!("PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {USER_VERSION};")).await?;
    let mut tx = conn.begin().await?;
    exec(&mut tx, CORE_TABLES.to_string()).await?;
    sqlx::query("INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?, 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')")
        .bind(WGS84_WKT)
        .execute(&mut *tx)
        .await?;

    let t = table_name(layer);
    let geometry_type = layer.geometry_type.ogc_name();
    let mut columns = vec!["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL".to_string(), format!("geom {geometry_type}")];
    columns.extend(layer.fields.iter().map(|f| format!("{} {}", quote(f.name), f.kind.gpkg())));
    exec(&mut tx, format!("CREATE TABLE {} ({})", quote(&t), columns.join(", "))).await?;

    let rtree = format!("rtree_{t}_geom");
    exec(&mut tx, format!("CREATE VIRTUAL TABLE {} USING rtree(id, minx, maxx, miny, maxy)", quote(&rtree))).await?;
    // Rows go in batches of multi-row INSERTs (one statement per batch, not per row),
    // within SQLite's limit of 32,766 bound values per statement.
    let columns = layer.fields.len() + 2;
    let batch = (30_000 / columns).clamp(1, 500);
    let insert_sql = |rows: usize| {
        let row = format!("({})", vec!["?"; columns].join(", "));
        format!("INSERT INTO {} VALUES {}", quote(&t), vec![row; rows].join(", "))
    };
    let rtree_sql = |rows: usize| format!("INSERT INTO {} VALUES {}", quote(&rtree), vec!["(?, ?, ?, ?, ?)"; rows].join(", "));
    let (full_insert, full_rtree) = (insert_sql(batch), rtree_sql(batch));
    let mut extent: Option<geo::Rect<f64>> = None;
    let mut done = 0;
    for chunk in positions.chunks(batch) {
        let features: Vec<_> = chunk.iter().map(|&i| layer.feature(i)).collect();
        let blobs = features.iter().map(|f| gpkg_geometry(&f.geometry, &f.bbox)).collect::<Result<Vec<_>>>()?;
        let (insert, index) = if chunk.len() == batch { (full_insert.clone(), full_rtree.clone()) } else { (insert_sql(chunk.len()), rtree_sql(chunk.len())) };
        let mut q = sqlx::query(AssertSqlSafe(insert));
        for (f, blob) in features.iter().zip(blobs) {
            q = q.bind(f.id).bind(blob);
            for v in &f.values {
                q = match v {
                    FieldValue::Null => q.bind(None::<i64>),
                    FieldValue::Integer(i) => q.bind(*i),
                    FieldValue::Real(r) => q.bind(*r),
                    FieldValue::Text(s) => q.bind(s.clone()),
                    FieldValue::Boolean(b) => q.bind(i64::from(*b)),
                };
            }
        }
        q.execute(&mut *tx).await?;
        let mut q = sqlx::query(AssertSqlSafe(index));
        for f in &features {
            let b = f.bbox;
            q = q.bind(f.id).bind(b.min().x).bind(b.max().x).bind(b.min().y).bind(b.max().y);
            extent = Some(super::layer::union(extent, b));
        }
        q.execute(&mut *tx).await?;
        done += chunk.len();
        on_row(done);
    }
    let (min_x, min_y, max_x, max_y) = extent.map_or((None, None, None, None), |e| (Some(e.min().x), Some(e.min().y), Some(e.max().x), Some(e.max().y)));
    sqlx::query("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, 4326)")
        .bind(&t)
        .bind(&layer.title)
        .bind(&layer.description)
        .bind(min_x)
        .bind(min_y)
        .bind(max_x)
        .bind(max_y)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 4326, 0, 0)").bind(&t).bind(geometry_type).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')")
        .bind(&t)
        .execute(&mut *tx)
        .await?;
    for trigger in rtree_triggers(&t, "geom") {
        exec(&mut tx, trigger).await?;
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

/// The GeoPackage of `layer` (features at `positions`) as bytes, through a temporary file.
pub async fn to_bytes(layer: &Layer, positions: &[usize]) -> Result<Vec<u8>> {
    let dir = tempfile_dir()?;
    let path = dir.join(format!("{}.gpkg", table_name(layer)));
    let result = write(layer, positions, &path, |_| {}).await;
    let bytes = match result {
        Ok(()) => tokio::fs::read(&path).await.map_err(Error::io("reading the GeoPackage")),
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_dir_all(&dir).await;
    bytes
}

/// A fresh private directory under the system's temporary directory.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("territory-export-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("making the temporary directory {}", dir.display())))?;
    Ok(dir)
}
