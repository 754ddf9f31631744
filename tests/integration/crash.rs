//! Grants survive crashes: the real binary under concurrent grant load is killed with
//! SIGKILL several times and restarted on the same database file; afterwards every grant
//! it acknowledged (201) is stored and active, no request it refused (409) left a grant,
//! the network has no conflicts, and the audit log holds exactly one record per decision.
//!
//! Requests whose answer was lost to a kill are "unknown": they may or may not have been
//! decided, but at most once. Requests that never reached the server (connection refused)
//! must have left nothing. The random choices come from a seed printed at the start; set
//! `CRASH_SEED` to replay one.

use crate::binary::{Server, serve, sigterm};
use crate::common::{rect, test_db};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use territory::domain::random::SplitMix64;
use tokio::sync::watch;

/// Concurrent clients.
const TASKS: usize = 8;
/// SIGKILL / restart cycles under load.
const KILLS: usize = 4;
/// The test area (no seeded grant lies here): [96, 97] × [35.5, 36.5] in 青海, on a lattice of half
/// cells so that every shared edge is computed by the same formula.
const LON0: f64 = 96.0;
const LAT0: f64 = 35.5;
const HALF: f64 = 0.025;
/// Half cells across the area (0.05° squares are 2 × 2 half cells).
const SPAN: usize = 40;
/// Each phase (the load between two restarts) draws in its own band of rows, 8 half cells
/// (0.2°) high, so that fresh land is contested after every restart.
const BAND: usize = 8;
/// Every request this test sends carries a note starting with this.
const NOTE: &str = "crash ";

/// Where the load should go: the base URL and the phase, or `None` while the server is down.
type Target = Option<(String, u64)>;

/// What became of one grant request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    /// 201; the id, unless the body was cut off.
    Granted(Option<i64>),
    /// 409.
    Refused,
    /// Sent, but the answer was lost (connection reset by the kill).
    Unknown,
    /// The connection was refused: the server never saw it.
    NotDelivered,
}

/// One grant request and its answer.
#[derive(Debug, Clone)]
struct Sent {
    note: String,
    partner_id: i64,
    answer: Answer,
}

/// What one client did: its grant requests and the partners acknowledged to it.
#[derive(Debug, Default)]
struct Log {
    sent: Vec<Sent>,
    partners: Vec<(i64, String)>,
}

/// A 0.05° square in band `phase % 5`, a quarter of them shifted by half a cell east
/// and/or north so that they overlap their neighbours.
fn square(rng: &mut SplitMix64, phase: u64) -> Value {
    let band = phase as usize % (SPAN / BAND);
    let mut kx = 2 * rng.below(SPAN / 2);
    let mut ky = band * BAND + 2 * rng.below(BAND / 2);
    if rng.below(4) == 0 && kx + 2 < SPAN {
        kx += 1;
    }
    if rng.below(4) == 0 && ky + 2 < SPAN {
        ky += 1;
    }
    let at = |k: usize, origin: f64| origin + k as f64 * HALF;
    rect(at(kx, LON0), at(ky, LAT0), at(kx + 2, LON0), at(ky + 2, LAT0))
}

/// The current target, waiting while the server is down; `None` once the test is over.
async fn target(rx: &mut watch::Receiver<Target>) -> Option<(String, u64)> {
    rx.wait_for(Option::is_some).await.ok().and_then(|t| t.clone())
}

/// One client: creates a partner, asks for 1–3 squares for it, repeats until `stop`.
async fn load(task: usize, seed: u64, client: reqwest::Client, mut rx: watch::Receiver<Target>, stop: Arc<AtomicBool>) -> Log {
    let mut rng = SplitMix64(seed);
    let mut log = Log::default();
    let mut attempt = 0;
    while !stop.load(Ordering::SeqCst) {
        let Some((base, _)) = target(&mut rx).await else { break };
        attempt += 1;
        let name = format!("{NOTE}{task}-{attempt}");
        let created = client.post(format!("{base}/networks/smart/partners")).json(&json!({"name": name, "tier": "city_partner"})).send().await;
        let partner_id = match created {
            Ok(r) if r.status().as_u16() == 201 => r.json::<Value>().await.ok().and_then(|b| b["id"].as_i64()),
            Ok(r) => {
                let status = r.status();
                panic!("partner `{name}`: unexpected status {status}: {}", r.text().await.unwrap_or_default())
            }
            Err(_) => None,
        };
        let Some(partner_id) = partner_id else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        log.partners.push((partner_id, name.clone()));
        for i in 0..1 + rng.below(3) {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Some((base, phase)) = target(&mut rx).await else { break };
            let note = format!("{name}/{i}");
            let body = json!({"partner_id": partner_id, "geometry": square(&mut rng, phase), "note": note});
            let answer = match client.post(format!("{base}/networks/smart/grants")).json(&body).send().await {
                Ok(r) => match r.status().as_u16() {
                    201 => Answer::Granted(r.json::<Value>().await.ok().and_then(|b| b["id"].as_i64())),
                    409 => Answer::Refused,
                    s => panic!("grant `{note}`: unexpected status {s}: {}", r.text().await.unwrap_or_default()),
                },
                Err(e) if e.is_connect() => Answer::NotDelivered,
                Err(_) => Answer::Unknown,
            };
            log.sent.push(Sent { note, partner_id, answer });
            if answer == Answer::NotDelivered {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    log
}

/// GET a JSON document: the status and the body (`Null` if not JSON).
async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = client.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// GET a JSON document that must be there.
async fn get_200(client: &reqwest::Client, url: &str) -> Value {
    let (status, body) = get_json(client, url).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

/// Restarts the server on `db` (blocking until it listens) without stalling the load.
async fn restart(db: &std::path::Path) -> (Server, String) {
    let path = db.to_path_buf();
    let (child, base) = tokio::task::spawn_blocking(move || serve(&path)).await.expect("restart task");
    (Server(child), base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_grants_survive_sigkill_and_refused_ones_leave_nothing() {
    let started = Instant::now();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
    println!("crash: seed {seed} (set CRASH_SEED={seed} to replay)");
    let mut rng = SplitMix64(seed);
    let db = test_db();
    let (child, base) = serve(&db.path);
    let mut server = Server(child);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let area = format!("bbox={LON0},{LAT0},{},{}", LON0 + SPAN as f64 * HALF, LAT0 + SPAN as f64 * HALF);
    let before = get_200(&client, &format!("{base}/networks/smart/grants?{area}")).await;
    assert_eq!(before["features"].as_array().map(Vec::len), Some(0), "the test area starts empty: {before}");
    let conflicts = get_200(&client, &format!("{base}/networks/smart/conflicts")).await;
    assert_eq!(conflicts["count"], json!(0), "{conflicts}");

    // Load, with SIGKILL and restart under it.
    let (tx, rx) = watch::channel::<Target>(Some((base, 0)));
    let mut slowest_restart = Duration::ZERO;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS).map(|t| tokio::spawn(load(t, rng.next_u64(), client.clone(), rx.clone(), stop.clone()))).collect();
    for phase in 1..=KILLS as u64 {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(600) as u64)).await;
        tx.send_replace(None);
        server.0.kill().expect("SIGKILL");
        let status = server.0.wait().expect("wait for the killed server");
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
        let down = Instant::now();
        let (next, base) = restart(&db.path).await;
        slowest_restart = slowest_restart.max(down.elapsed());
        server = next;
        tx.send_replace(Some((base, phase)));
    }
    tokio::time::sleep(Duration::from_millis(300 + rng.below(600) as u64)).await;
    stop.store(true, Ordering::SeqCst);
    let mut logs = Vec::new();
    for task in tasks {
        logs.push(task.await.expect("load task"));
    }
    drop(tx);
    // A clean stop and one more start: the final state is what a restart reads back.
    sigterm(&server.0);
    let status = server.0.wait().expect("wait for the stopped server");
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    let (final_server, base) = restart(&db.path).await;
    server = final_server;
    let load_done = started.elapsed();

    let sent: Vec<&Sent> = logs.iter().flat_map(|l| &l.sent).collect();
    let count = |f: fn(&Answer) -> bool| sent.iter().filter(|s| f(&s.answer)).count();
    let acknowledged = count(|a| matches!(a, Answer::Granted(_)));
    let refused = count(|a| *a == Answer::Refused);
    let unknown = count(|a| *a == Answer::Unknown);
    let not_delivered = count(|a| *a == Answer::NotDelivered);

    // Acknowledged partners are stored under their names.
    let partners = get_200(&client, &format!("{base}/networks/smart/partners")).await;
    let stored_partners: BTreeMap<i64, String> = partners["partners"]
        .as_array()
        .expect("partners")
        .iter()
        .map(|p| (p["id"].as_i64().expect("partner id"), p["name"].as_str().expect("partner name").to_string()))
        .collect();
    let acked_partners: Vec<&(i64, String)> = logs.iter().flat_map(|l| &l.partners).collect();
    let lost_partners: Vec<_> = acked_partners.iter().filter(|(id, name)| stored_partners.get(id) != Some(name)).collect();

    // Every grant in the area, by note.
    let grants = get_200(&client, &format!("{base}/networks/smart/grants?{area}")).await;
    let features = grants["features"].as_array().expect("features");
    let mut stored: BTreeMap<String, (i64, i64, String)> = BTreeMap::new();
    for f in features {
        let p = &f["properties"];
        let note = p["note"].as_str().expect("note").to_string();
        assert!(note.starts_with(NOTE), "a grant in the test area this test did not ask for: {f}");
        let row = (p["id"].as_i64().expect("id"), p["partner_id"].as_i64().expect("partner_id"), p["status"].as_str().expect("status").to_string());
        assert!(stored.insert(note.clone(), row).is_none(), "request `{note}` was granted twice");
    }

    // Acknowledged grants: each stored, active, for its partner, under its id.
    let mut lost = Vec::new();
    for s in sent.iter().filter(|s| matches!(s.answer, Answer::Granted(_))) {
        let Answer::Granted(id) = s.answer else { continue };
        let ok = match (id, stored.get(&s.note)) {
            (Some(id), Some((stored_id, partner, status))) => {
                let (code, one) = get_json(&client, &format!("{base}/networks/smart/grants/{id}")).await;
                code == 200
                    && *stored_id == id
                    && *partner == s.partner_id
                    && status == "active"
                    && one["properties"]["status"] == json!("active")
                    && one["properties"]["note"] == json!(s.note)
                    && one["properties"]["partner_id"] == json!(s.partner_id)
            }
            (None, Some((_, partner, status))) => *partner == s.partner_id && status == "active",
            (_, None) => false,
        };
        if !ok {
            lost.push(s.note.clone());
        }
    }
    // Refused and undelivered requests left no grant; unknown ones at most one.
    let leaked: Vec<&str> =
        sent.iter().filter(|s| matches!(s.answer, Answer::Refused | Answer::NotDelivered) && stored.contains_key(&s.note)).map(|s| s.note.as_str()).collect();
    let asked: BTreeSet<&str> = sent.iter().map(|s| s.note.as_str()).collect();
    let foreign: Vec<&String> = stored.keys().filter(|n| !asked.contains(n.as_str())).collect();
    let from_unknown = sent.iter().filter(|s| s.answer == Answer::Unknown && stored.contains_key(&s.note)).count();
    // Partners whose every answer was 409 hold nothing.
    let mut answers_of: BTreeMap<i64, Vec<Answer>> = BTreeMap::new();
    for s in &sent {
        answers_of.entry(s.partner_id).or_default().push(s.answer);
    }
    let refused_only_holding: Vec<i64> = answers_of
        .iter()
        .filter(|(_, a)| a.iter().all(|a| *a == Answer::Refused))
        .map(|(p, _)| *p)
        .filter(|p| stored.values().any(|(_, holder, _)| holder == p))
        .collect();

    let conflicts = get_200(&client, &format!("{base}/networks/smart/conflicts")).await;

    // The audit log: one record per decided request of this test, matching the grants. It
    // comes a page at a time; `next` is followed as given.
    let mut entries = Vec::new();
    let mut page_url = format!("{base}/networks/smart/audit");
    loop {
        let page = get_200(&client, &page_url).await;
        entries.extend(page["entries"].as_array().expect("audit entries").iter().cloned());
        match page["links"].as_array().and_then(|l| l.iter().find(|l| l["rel"] == "next")) {
            Some(next) => page_url = next["href"].as_str().expect("href").to_string(),
            None => break,
        }
    }
    let mut records: BTreeMap<String, Vec<(String, String, Option<i64>)>> = BTreeMap::new();
    for e in &entries {
        let Some(note) = e["request"]["note"].as_str().filter(|n| n.starts_with(NOTE)) else { continue };
        let record = (e["action"].as_str().expect("action").to_string(), e["result"].as_str().expect("result").to_string(), e["grant_id"].as_i64());
        records.entry(note.to_string()).or_default().push(record);
    }
    let mut audit_problems = Vec::new();
    for (note, list) in &records {
        if list.len() != 1 {
            audit_problems.push(format!("`{note}` has {} audit records: {list:?}", list.len()));
        }
    }
    let record = |note: &str| records.get(note).and_then(|l| l.first()).map(|(action, result, id)| (action.as_str(), result.as_str(), *id));
    for (note, (id, _, _)) in &stored {
        if record(note) != Some(("grant", "granted", Some(*id))) {
            audit_problems.push(format!("stored grant {id} (`{note}`) has no `granted` record: {:?}", records.get(note)));
        }
    }
    for (note, list) in &records {
        if list.iter().any(|(_, result, _)| result == "granted") && !stored.contains_key(note) {
            audit_problems.push(format!("`{note}` is recorded granted but no grant is stored: {list:?}"));
        }
    }
    for s in &sent {
        let problem = match s.answer {
            Answer::Refused if record(&s.note) != Some(("grant", "refused", None)) => "answered 409 but has no `refused` record",
            Answer::NotDelivered if records.contains_key(&s.note) => "never delivered but has an audit record",
            _ => continue,
        };
        audit_problems.push(format!("`{}` {problem}: {:?}", s.note, records.get(&s.note)));
    }

    println!(
        "crash: {KILLS} SIGKILLs in {:.1} s (slowest restart {:.2} s); grant requests sent {}: acknowledged 201 {acknowledged}, refused 409 {refused}, unknown {unknown}, \
         not delivered {not_delivered}; stored {} ({} from unknown requests); lost {}; partners acknowledged {}, lost {}; audit records {}",
        load_done.as_secs_f64(),
        slowest_restart.as_secs_f64(),
        sent.len(),
        stored.len(),
        from_unknown,
        lost.len(),
        acked_partners.len(),
        lost_partners.len(),
        records.values().map(Vec::len).sum::<usize>(),
    );
    assert!(lost.is_empty(), "acknowledged grants missing after the crashes: {lost:?}");
    assert!(lost_partners.is_empty(), "acknowledged partners missing after the crashes: {lost_partners:?}");
    assert!(leaked.is_empty(), "refused or undelivered requests that left a grant: {leaked:?}");
    assert!(foreign.is_empty(), "stored grants no request of this test asked for: {foreign:?}");
    assert!(refused_only_holding.is_empty(), "partners refused every time that hold a grant: {refused_only_holding:?}");
    assert_eq!(stored.len(), acknowledged + from_unknown, "stored = acknowledged + some unknown");
    assert_eq!(conflicts["count"], json!(0), "conflicts after the crashes: {conflicts}");
    assert!(audit_problems.is_empty(), "audit log disagrees with the grants:\n{}", audit_problems.join("\n"));
    assert!(acknowledged > 0 && refused > 0, "the load both granted and refused (201: {acknowledged}, 409: {refused})");
    sigterm(&server.0);
    assert!(server.0.wait().expect("wait").success());
}
