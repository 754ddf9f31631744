//! Migrations on a database written by an earlier version: nothing lost, keys intact.

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::path::Path;

/// A database migrated up to `version` only, as an earlier release left it.
async fn database_at(path: &Path, version: i64) -> sqlx::SqlitePool {
    let options = SqliteConnectOptions::new().filename(path).create_if_missing(true).foreign_keys(true);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("open");
    let mut migrator = sqlx::migrate::Migrator::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")).await.expect("migrations");
    migrator.migrations = migrator.migrations.iter().filter(|m| m.version <= version).cloned().collect::<Vec<_>>().into();
    migrator.run(&pool).await.expect("migrate");
    pool
}

#[tokio::test]
async fn the_pipeline_migration_keeps_every_row_and_key_of_an_earlier_database() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("old.db");
    let old = database_at(&path, 9).await;
    for sql in [
        "insert into networks values ('n', 'N', 'smart', '2025-01-01T00:00:00Z')",
        "insert into partners values (1, 'n', 'P', 'city_partner', '2025-01-01T00:00:00Z')",
        "insert into state (key, value) values ('regions_seq', 0) on conflict do nothing",
        "insert into grants (id, network, partner_id, adcodes, geometry, area_km2, min_lon, min_lat, max_lon, max_lat, exclusive, valid_from, status, created_at, seq)
           values (7, 'n', 1, null, '{}', 1.0, 0, 0, 1, 1, 1, '2025-01-01', 'active', '2025-01-01T00:00:00Z', 1)",
        "insert into outlets (id, network, partner_id, competitor, name, lon, lat, format, site_type, opened_on, status, closed_on, close_reason,
           showroom_m2, created_at, updated_at, external_id)
           values (3, 'n', 1, 0, 'A', 114.3, 30.6, 'light_showroom', 'mall', '2025-02-01', 'closed', '2025-06-01', 'lease', 300,
                   '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'D-3')",
        "insert into outlets (id, network, partner_id, competitor, name, lon, lat, site_type, status, created_at, updated_at)
           values (4, 'n', null, 1, 'B', 114.3, 30.6, 'mall', 'open', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
        "insert into sales values ('n', 3, 2025, '', 120, 'upload')",
        "insert into audit (id, network, at, action, result, grant_id, request, conflicts, actor)
           values (1, 'n', '2025-01-01T00:00:00Z', 'grant', 'granted', 7, '{}', '[]', 'cli')",
    ] {
        sqlx::query(sql).execute(&old).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    old.close().await;

    let store = territory::store::Store::open(&path).await.expect("migrated");
    let pool = &store.pool;
    let outlet: (String, Option<String>, Option<String>, Option<String>, Option<f64>) =
        sqlx::query_as("select status, opened_on, closed_on, external_id, showroom_m2 from outlets where id = 3").fetch_one(pool).await.expect("outlet");
    assert_eq!(outlet, ("closed".into(), Some("2025-02-01".into()), Some("2025-06-01".into()), Some("D-3".into()), Some(300.0)));
    let counts: (i64, i64, i64, i64) =
        sqlx::query_as("select (select count(*) from outlets), (select count(*) from grants), (select count(*) from sales), (select count(*) from audit)")
            .fetch_one(pool)
            .await
            .expect("counts");
    assert_eq!(counts, (2, 1, 1, 1));
    let broken: Vec<(String, i64, String, i64)> = sqlx::query_as("pragma foreign_key_check").fetch_all(pool).await.expect("check");
    assert!(broken.is_empty(), "{broken:?}");
    let on: i64 = sqlx::query_scalar("pragma foreign_keys").fetch_one(pool).await.expect("pragma");
    assert_eq!(on, 1, "foreign keys are on again after the migration");
    // The keys still hold: a sale of an unknown outlet is refused; the new states are taken.
    assert!(sqlx::query("insert into sales values ('n', 99, 2025, '', 1, 'upload')").execute(pool).await.is_err());
    sqlx::query("update outlets set status = 'proposed', proposed_on = '2025-01-01' where id = 4").execute(pool).await.expect("a stage");
    assert!(sqlx::query("update grants set status = 'reserved' where id = 7").execute(pool).await.is_err(), "a reservation needs its day");
    sqlx::query("update grants set status = 'reserved', reserved_until = '2030-01-01' where id = 7").execute(pool).await.expect("reserved");
}
