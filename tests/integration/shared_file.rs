//! Several processes on one database file, as operators run them: the service, the CLI
//! (`token create`, `token list`, `check`, `backup`) and a plain SQLite client, all opening
//! and closing the file while the service serves and commits grants. None of them may stop
//! the service, lose an acknowledged grant or corrupt the file.
//!
//! Regression test for issue 17: the service used to read SQLite's WAL index (`-shm`) by
//! name on every request. Each close() of that file dropped every POSIX lock SQLite held on
//! it for the whole process, so the next outside connection to close believed itself the
//! last one, checkpointed and truncated the index under the service's mapping: SIGBUS
//! after a few dozen outside opens.

use crate::binary::{Server, serve_with, sigterm};
use crate::common::{rect, test_db};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Rounds of outside processes; each runs the CLI three times and a SQLite client that
/// opens and closes the file [`SQLITE_OPENS`] times (the old service died after ~40 opens).
const ROUNDS: usize = 12;
/// Opens and closes per round by the plain SQLite client.
const SQLITE_OPENS: usize = 8;

fn territory(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_territory")).args(args).arg("--db").arg(db).output().expect("run territory")
}

/// Runs a CLI command that must succeed; its standard output.
fn cli(db: &Path, args: &[&str]) -> String {
    let out = territory(db, args);
    assert!(out.status.success(), "territory {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs Python's own `sqlite3` module (a plain SQLite client, not ours) on `db`.
pub(crate) fn python_sqlite(db: &Path, script: &str) -> String {
    let out = Command::new("python3").arg("-c").arg(script).arg(db).output().expect("run python3");
    assert!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Opens the file, reads, closes it: `n` times.
fn sqlite_opens(db: &Path, n: usize) {
    let script = format!(
        "import sqlite3, sys\nfor _ in range({n}):\n    c = sqlite3.connect(sys.argv[1], timeout=30)\n    c.execute('select count(*) from grants').fetchone()\n    c.close()"
    );
    python_sqlite(db, &script);
}

/// `PRAGMA integrity_check` by the plain client.
fn integrity(db: &Path) -> String {
    python_sqlite(db, "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(c.execute('pragma integrity_check').fetchone()[0])")
}

/// Grants in the file whose note starts with `prefix`, by the plain client.
fn notes_stored(db: &Path, prefix: &str) -> Vec<String> {
    let script = format!(
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nfor (n,) in c.execute(\"select note from grants where note like '{prefix}%' and status = 'active'\"): print(n)"
    );
    python_sqlite(db, &script).lines().map(str::to_string).collect()
}

/// One acknowledged grant: its id, note, and when the answer came.
struct Acked {
    id: i64,
    note: String,
    at: Instant,
}

/// Creates a partner; its id.
async fn partner(client: &reqwest::Client, base: &str, token: &str, name: &str) -> i64 {
    let r = client.post(format!("{base}/networks/smart/partners")).bearer_auth(token).json(&json!({"name": name, "tier": "city_partner"})).send().await;
    let body: Value = r.expect("partner").json().await.expect("partner json");
    body["id"].as_i64().unwrap_or_else(|| panic!("partner id: {body}"))
}

/// Until `stop`: one partner asks for the next 0.05° square of a lattice in an empty area
/// (granted), then another asks for the same square shifted by half (refused). Every
/// request must be answered 201 or 409 as expected; anything else fails the test.
async fn grant_load(base: String, token: String, stop: Arc<AtomicBool>) -> (Vec<Acked>, usize) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let first = partner(&client, &base, &token, "共享文件甲").await;
    let second = partner(&client, &base, &token, "共享文件乙").await;
    let (mut acked, mut refused) = (Vec::new(), 0);
    let mut i = 0usize;
    // Three blocks of 40 × 40 squares of 0.05°, inside 青海 (the sample regions): row after
    // row, never the same square twice (a partner holding it twice is a duplicate).
    const BLOCKS: [f64; 3] = [96.0, 94.0, 98.0];
    while !stop.load(Ordering::SeqCst) && i < 1600 * BLOCKS.len() {
        let (block, k) = (i / 1600, i % 1600);
        let (x, y) = (BLOCKS[block] + 0.05 * (k % 40) as f64, 35.0 + 0.05 * (k / 40) as f64);
        for (partner_id, shift, expected) in [(first, 0.0, 201), (second, 0.025, 409)] {
            let note = format!("shared {i}/{partner_id}");
            let body = json!({"partner_id": partner_id, "geometry": rect(x + shift, y, x + shift + 0.05, y + 0.05), "note": note});
            let r = client
                .post(format!("{base}/networks/smart/grants"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("grant `{note}` got no answer: {e}"));
            let status = r.status().as_u16();
            assert_eq!(status, expected, "grant `{note}`: {}", r.text().await.unwrap_or_default());
            if status == 201 {
                let id = r.json::<Value>().await.expect("grant json")["id"].as_i64().expect("grant id");
                acked.push(Acked { id, note, at: Instant::now() });
            } else {
                refused += 1;
            }
        }
        i += 1;
    }
    (acked, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_processes_opening_the_file_never_stop_the_service_nor_lose_a_grant() {
    let db = test_db();
    let path = db.path.clone();
    let admin = cli(&path, &["token", "create", "--name", "load", "--role", "admin"]);
    let (child, base) = serve_with(&path, &[]);
    let mut server = Server(child);

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(grant_load(base.clone(), admin.clone(), stop.clone()));
    let check_file = db.dir.path().join("check.geojson");
    let proposal = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"partner_id": 2, "adcodes": ["441300"]}, "geometry": null}]});
    std::fs::write(&check_file, proposal.to_string()).expect("write check file");
    let backup = db.dir.path().join("backup.db");
    let (outside_path, outside_backup) = (path.clone(), backup.clone());
    let outside = tokio::task::spawn_blocking(move || {
        let path = outside_path.as_path();
        let mut backup_started = None;
        for round in 0..ROUNDS {
            cli(path, &["token", "create", "--name", &format!("viewer {round}"), "--role", "viewer"]);
            assert!(cli(path, &["token", "list"]).contains(&format!("viewer {round}")));
            let checked = territory(path, &["check", "--network", "smart", check_file.to_str().expect("utf-8")]);
            assert_eq!(checked.status.code(), Some(0), "check: {}", String::from_utf8_lossy(&checked.stdout));
            sqlite_opens(path, SQLITE_OPENS);
            if round == ROUNDS / 2 {
                backup_started = Some(Instant::now());
                cli(path, &["backup", outside_backup.to_str().expect("utf-8")]);
            }
        }
        backup_started.expect("the backup ran")
    });
    let outside_result = outside.await;
    stop.store(true, Ordering::SeqCst);
    let (acked, refused) = load.await.expect("load task");
    let backup_started = outside_result.expect("outside processes");
    assert!(server.0.try_wait().expect("server status").is_none(), "the service died while other processes used the file");
    println!("shared file: {} outside opens; the service acknowledged {} grants and refused {refused} meanwhile", ROUNDS * (3 + SQLITE_OPENS) + 1, acked.len());
    assert!(acked.len() > 10, "the load made grants throughout ({})", acked.len());

    // Every acknowledged grant is stored, as the service and a plain client read it.
    let client = reqwest::Client::new();
    for a in &acked {
        let r = client.get(format!("{base}/networks/smart/grants/{}", a.id)).bearer_auth(&admin).send().await.expect("get grant");
        assert_eq!(r.status().as_u16(), 200, "acknowledged grant {} (`{}`)", a.id, a.note);
        let f: Value = r.json().await.expect("grant json");
        assert_eq!((f["properties"]["note"].as_str(), f["properties"]["status"].as_str()), (Some(a.note.as_str()), Some("active")));
    }

    // A token revoked by another process is refused within the stated bound.
    let viewer = cli(&path, &["token", "create", "--name", "short-lived", "--role", "viewer"]);
    let grants_url = format!("{base}/networks/smart/grants?bbox=0,0,1,1");
    let made = Instant::now();
    while client.get(&grants_url).bearer_auth(&viewer).send().await.expect("get").status().as_u16() != 200 {
        assert!(made.elapsed() <= territory::store::changes::SEEN_WITHIN, "a new token was not accepted within the bound");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tokens = cli(&path, &["token", "list"]);
    let id = tokens.lines().find(|l| l.contains("short-lived")).and_then(|l| l.split('\t').next()).expect("token id").to_string();
    cli(&path, &["token", "revoke", &id]);
    let revoked = Instant::now();
    loop {
        let status = client.get(&grants_url).bearer_auth(&viewer).send().await.expect("get").status().as_u16();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(revoked.elapsed() <= territory::store::changes::SEEN_WITHIN, "a revoked token still served after {:?}", revoked.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("shared file: a token revoked by the CLI was refused after {:?}", revoked.elapsed());

    sigterm(&server.0);
    let status = server.0.wait().expect("wait");
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert_eq!(integrity(&path), "ok");
    let mut stored = notes_stored(&path, "shared ");
    stored.sort();
    let mut expected: Vec<String> = acked.iter().map(|a| a.note.clone()).collect();
    expected.sort();
    assert_eq!(stored, expected, "the file holds exactly the acknowledged grants");

    // The backup is a consistent database holding every grant acknowledged before it began.
    assert_eq!(integrity(&backup), "ok");
    let in_backup = notes_stored(&backup, "shared ");
    let before: Vec<&Acked> = acked.iter().filter(|a| a.at < backup_started).collect();
    assert!(!before.is_empty(), "grants were acknowledged before the backup");
    let missing: Vec<&str> = before.iter().filter(|a| !in_backup.contains(&a.note)).map(|a| a.note.as_str()).collect();
    assert!(missing.is_empty(), "the backup lacks grants acknowledged before it began: {missing:?}");
    assert!(in_backup.iter().all(|n| stored.contains(n)), "the backup holds only grants the service acknowledged");
}

#[test]
fn backup_never_overwrites_a_file() {
    let db = test_db();
    let target = db.dir.path().join("exists.db");
    std::fs::write(&target, "keep me").expect("write");
    let out = territory(&db.path, &["backup", target.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep me");
}

#[tokio::test]
async fn regions_imported_by_another_process_are_used_without_a_restart() {
    let app = crate::common::app().await;
    app.get("/regions/710000").await.expect_problem(404);
    let layer = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"adcode": "710000", "name": "测试省", "level": "province", "parent_adcode": null},
        "geometry": rect(120.0, 22.0, 121.0, 25.0)}]});
    let file = app.db.dir.path().join("province.geojson");
    std::fs::write(&file, layer.to_string()).expect("write layer");
    cli(&app.db.path, &["import", "regions", file.to_str().expect("utf-8")]);
    tokio::time::sleep(territory::app::ledger::DRY_RUN_STALENESS).await;
    app.get("/regions/710000").await.expect(200);
    let p = app.partner("haima", "测试省经销商", "regional_core").await;
    app.post("/networks/haima/grants", json!({"partner_id": p, "adcodes": ["710000"]})).await.expect(201);
    let listed = app.get("/ogc/collections/regions/items?limit=2000").await;
    assert!(listed.text.contains("710000"), "the regions layer has the new province");
}
