//! HTTP load on every endpoint of every `serve`, each answer recorded with when it was asked and
//! answered: `/role` four times a second (the role timeline the checker reads), `/status` every two
//! seconds, `/metrics` on both listeners every ten, the other probes in between, and `/scale-in`
//! every 15-30 s. A sampler records each `serve`'s RSS and open files every 5 s.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::http_get_within;
use crate::history::{now_ms, Answer, Body, Footprint, History};
use crate::rng::Rng;
use crate::world::{field, World};

/// How long a probe may wait for an endpoint answered from memory before the answer is recorded
/// as missing (the checker's bound is far lower).
const PROBE_LIMIT: Duration = Duration::from_secs(5);
/// `/scale-in` asks the broker: one scan here, 5 x --timeout (10 s); the handler's own bound is two.
const SCALE_IN_LIMIT: Duration = Duration::from_secs(20);

const OTHERS: [&str; 7] =
    ["/primary", "/replica", "/health", "/live", "/ready", "/role?version=true", "/replica?lag=1048576"];

pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

pub fn start(world: &Arc<World>, history: &Arc<History>, seed: u64) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..world.serves.len() {
        let (w, h, s) = (world.clone(), history.clone(), stop.clone());
        threads.push(std::thread::spawn(move || probe_loop(&w, &h, &s, i, seed)));
        let (w, h, s) = (world.clone(), history.clone(), stop.clone());
        threads.push(std::thread::spawn(move || scale_in_loop(&w, &h, &s, i, seed)));
    }
    let (w, h, s) = (world.clone(), history.clone(), stop.clone());
    threads.push(std::thread::spawn(move || footprint_loop(&w, &h, &s)));
    Load { stop, threads }
}

impl Load {
    /// Keeps the load going for `d` with no faults.
    pub fn settle(&self, d: Duration) {
        std::thread::sleep(d);
    }

    /// After the settle time, each sidecar's `/role` beside the admin client's latest view of its
    /// broker, asked until they agree or a minute passes: (serve, sidecar, truth).
    pub fn final_agreement(&self, world: &World) -> Vec<(usize, String, String)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows: Vec<_> = (0..world.serves.len())
                .map(|i| {
                    let (code, body, _) = http_get_within(world.serves[i].serve.port, "/role", PROBE_LIMIT);
                    let said = if code == 200 { body.trim().to_string() } else { format!("{code} {}", body.trim()) };
                    (i, said, truth_role(world, i))
                })
                .collect();
            if rows.iter().all(|(_, said, truth)| said == truth) || Instant::now() > deadline {
                return rows;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("a load thread panicked");
        }
    }
}

/// The role the admin client read last from broker `i` (`master`, `slave`, or why not).
pub fn truth_role(world: &World, i: usize) -> String {
    let addr = world.brokers[i].addr();
    let last = world.truth.lines("cfg").into_iter().rev().find(|l| field(l, 2) == addr);
    match last {
        Some(l) if l.starts_with("cfg ") => role_of(field(&l, 3)).to_string(),
        Some(l) => format!("unreachable ({l})"),
        None => "never read".to_string(),
    }
}

/// `brokerRole` as a sidecar names it.
pub fn role_of(broker_role: &str) -> &'static str {
    if broker_role.ends_with("MASTER") {
        "master"
    } else if broker_role == "SLAVE" {
        "slave"
    } else {
        "unknown"
    }
}

fn probe_loop(world: &World, history: &History, stop: &AtomicBool, i: usize, seed: u64) {
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(i as u64));
    let port = world.serves[i].serve.port;
    let agent = world.serves[i].agent_port;
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        history.answer(ask(i, port, "/role", PROBE_LIMIT));
        let extra = match n % 40 {
            2 => Some((port, "/metrics")),
            22 => Some((agent, "/metrics")),
            k if k % 8 == 0 => Some((port, "/status")),
            k if k % 4 == 0 => Some((port, *rng.pick(&OTHERS))),
            _ => None,
        };
        if let Some((p, path)) = extra {
            let mut a = ask(i, p, path, PROBE_LIMIT);
            if p == agent {
                a.what = format!("agent {path}");
            }
            history.answer(a);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn scale_in_loop(world: &World, history: &History, stop: &AtomicBool, i: usize, seed: u64) {
    let mut rng = Rng::new(seed.wrapping_mul(97).wrapping_add(i as u64));
    let port = world.serves[i].serve.port;
    let mut next = Instant::now() + Duration::from_secs(rng.between(5, 30));
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next {
            history.answer(ask(i, port, "/scale-in", SCALE_IN_LIMIT));
            next = Instant::now() + Duration::from_secs(rng.between(15, 30));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn footprint_loop(world: &World, history: &History, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        for (i, s) in world.serves.iter().enumerate() {
            let pid = s.serve.pid();
            let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|t| t.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
                .unwrap_or(0);
            let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0);
            history.footprint(Footprint { at: now_ms(), serve: i, rss_kib, fds });
        }
        for _ in 0..25 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn ask(serve: usize, port: u16, path: &str, limit: Duration) -> Answer {
    let sent = now_ms();
    let (code, text, _) = http_get_within(port, path, limit);
    let got = now_ms();
    let body = match path {
        "/status" => Body::Status(serde_json::from_str(&text).unwrap_or_default()),
        "/metrics" => Body::Metrics(metrics_of(&text)),
        "/scale-in" => Body::Text(text.chars().take(300).collect()),
        _ => Body::Text(text.trim().to_string()),
    };
    Answer { serve, what: path.to_string(), sent, got, code, body }
}

/// The series the checker reads: the agent's counters and refresh time, and the broker's
/// produced offsets of the campaign's topic.
fn metrics_of(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            (l.starts_with("rocketmq_sidecar_") && (l.contains("_total") || l.contains("last_success_timestamp")))
                || (l.starts_with("rocketmq_producer_offset{") && l.contains("topic=\"chaos\""))
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v))))
        .collect()
}
