//! The randomized fault campaign (`scripts/chaos.sh --seed S --minutes M`): three real RocketMQ
//! topologies, one `serve` per broker, official-client producers and push consumers, HTTP load on
//! every endpoint, and overlapping faults drawn from one seed. Every answer the sidecars give is
//! recorded beside the ground truth, which comes from sources independent of the sidecar:
//! - process states, recorded by this harness as it stops, pauses and restarts them;
//! - each broker's config and role, read by the official admin client (`TestClient watch`);
//! - what producers sent and consumers finished, from the clients' own lines.
//!
//! The checker (`checker.rs`) compares the two and fails the run on any violation. CI runs a short
//! campaign with a fixed seed (CHAOS_SEED, default 1; CHAOS_MINUTES, default 1); README reports a
//! long one. The history and the figures are written to CHAOS_OUT (default: the test's scratch dir).
#[path = "../common/mod.rs"]
mod common;

mod checker;
mod facts;
mod faults;
mod history;
mod load;
mod rng;
mod world;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use facts::Facts;
use history::History;
use world::World;

/// What one run is: its seed, its length and where its history goes.
struct Settings {
    seed: u64,
    minutes: f64,
    out: PathBuf,
}

impl Settings {
    fn from_env() -> Settings {
        let seed = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
        let minutes = std::env::var("CHAOS_MINUTES").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
        let out = std::env::var("CHAOS_OUT").map(PathBuf::from).unwrap_or_else(|_| common::scratch("chaos-out"));
        std::fs::create_dir_all(&out).expect("create CHAOS_OUT");
        Settings { seed, minutes, out }
    }
}

/// How long the load keeps running after the last fault, before the final agreement check: long
/// enough for a restarted broker to boot, register and be elected.
const SETTLE: Duration = Duration::from_secs(20);

#[test]
fn campaign() {
    if let Ok(dir) = std::env::var("CHAOS_RECHECK") {
        return recheck(std::path::Path::new(&dir));
    }
    let settings = Settings::from_env();
    eprintln!("chaos: seed {} for {} min; history in {}", settings.seed, settings.minutes, settings.out.display());
    let history = Arc::new(History::default());
    // Processes live in a fresh scratch dir (a broker's home keeps its first config and store).
    let world = Arc::new(World::start(&common::scratch("chaos"), &history));
    let load = load::start(&world, &history, settings.seed);
    let began = Instant::now();
    let deadline = began + Duration::from_secs_f64(settings.minutes * 60.0);
    let harness_errors = faults::run(&world, &history, settings.seed, deadline);
    world.resume_everything(&history);
    load.settle(SETTLE);
    let agreement = load.final_agreement(&world);
    load.stop();
    world.stop_clients();
    let facts = Facts::of(&world);
    history.write(&settings.out);
    facts.write(&settings.out);
    write_agreement(&settings.out, &agreement);
    let report = checker::check(&facts, &history, &agreement);
    let figures = report.figures(&format!("seed {}", settings.seed), began.elapsed(), &history);
    show(&settings.out.join("figures.txt"), &figures);
    assert!(harness_errors.is_empty(), "the harness itself failed: {harness_errors:#?}");
    assert!(
        report.violations.is_empty(),
        "{} violation(s):\n{}",
        report.violations.len(),
        report.violations.join("\n")
    );
}

/// The checker again, on a recorded campaign (`CHAOS_RECHECK=DIR`): the same rules, the same
/// figures, written to DIR/figures-recheck.txt.
fn recheck(dir: &std::path::Path) {
    let facts = Facts::load(dir);
    let history = History::load(dir);
    let agreement = read_agreement(dir);
    let report = checker::check(&facts, &history, &agreement);
    let (first, last) = {
        let answers = history.answers.lock().unwrap();
        (answers.iter().map(|a| a.sent).min().unwrap_or(0), answers.iter().map(|a| a.got).max().unwrap_or(0))
    };
    let took = Duration::from_millis(last.saturating_sub(first));
    let figures = report.figures(&format!("recheck of {}", dir.display()), took, &history);
    show(&dir.join("figures-recheck.txt"), &figures);
    assert!(
        report.violations.is_empty(),
        "{} violation(s):\n{}",
        report.violations.len(),
        report.violations.join("\n")
    );
}

/// Writes the figures to `path` and shows them.
fn show(path: &std::path::Path, figures: &str) {
    use std::io::Write;
    std::fs::write(path, figures).unwrap();
    // Straight to stderr, not through eprintln!: the test harness would keep it from a passing
    // test's output, and CI's log should show the figures.
    let _ = writeln!(std::io::stderr(), "{figures}");
}

fn write_agreement(dir: &std::path::Path, rows: &[(usize, String, String)]) {
    let text: String = rows
        .iter()
        .map(|(i, said, truth)| format!("{}\n", serde_json::json!({"serve": i, "said": said, "truth": truth})))
        .collect();
    std::fs::write(dir.join("agreement.jsonl"), text).unwrap();
}

/// The final agreement rows (none for a campaign recorded before agreement.jsonl existed).
fn read_agreement(dir: &std::path::Path) -> Vec<(usize, String, String)> {
    let text = std::fs::read_to_string(dir.join("agreement.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["serve"].as_u64().unwrap_or(0) as usize,
                v["said"].as_str().unwrap_or("").into(),
                v["truth"].as_str().unwrap_or("").into(),
            )
        })
        .collect()
}
