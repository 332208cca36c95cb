//! Role probes side by side, the way one sidecar per broker runs them: every broker of a group
//! asked with `role` about every 300 ms, for failover tests (never two masters at once).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::sidecar;

/// What the three probes said, sample by sample: (time, roles in broker order).
pub type Samples = Arc<Mutex<Vec<(Instant, Vec<String>)>>>;

/// Probes all three brokers in parallel, about every 300 ms, until `stop` is set.
pub fn watch(addrs: Vec<String>, ns: String, stop: Arc<AtomicBool>) -> (Samples, std::thread::JoinHandle<()>) {
    let samples: Samples = Arc::default();
    let sink = samples.clone();
    let handle = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let at = Instant::now();
            let roles: Vec<String> = std::thread::scope(|s| {
                let asks: Vec<_> = addrs
                    .iter()
                    .map(|a| {
                        let ns = ns.clone();
                        s.spawn(move || {
                            let run = sidecar(
                                &["role", "--broker", a, "--namesrv", &ns, "--timeout", "1s"],
                                &[],
                                Duration::from_secs(5),
                            );
                            if run.code == Some(0) {
                                run.stdout.trim().to_string()
                            } else {
                                "unknown".into()
                            }
                        })
                    })
                    .collect();
                asks.into_iter().map(|h| h.join().unwrap()).collect()
            });
            sink.lock().unwrap_or_else(|p| p.into_inner()).push((at, roles));
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    (samples, handle)
}

pub fn masters(roles: &[String]) -> Vec<usize> {
    roles.iter().enumerate().filter(|(_, r)| *r == "master").map(|(i, _)| i).collect()
}

/// Waits until exactly one broker is master in the latest sample; returns it and when.
pub fn wait_master(samples: &Samples, not: Option<usize>, limit: Duration) -> (usize, Instant) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some((at, roles)) = samples.lock().unwrap_or_else(|p| p.into_inner()).last() {
            if let [m] = masters(roles)[..] {
                if Some(m) != not {
                    return (m, *at);
                }
            }
        }
        assert!(Instant::now() < deadline, "no new master within {limit:?}: {:?}", samples.lock().unwrap().last());
        std::thread::sleep(Duration::from_millis(100));
    }
}
