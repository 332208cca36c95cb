//! The scale-in scan behind `GET /scale-in`, owned by a task of its own. Callers ask for a scan and
//! read a finished one as an immutable snapshot; they never run the scan themselves, so a caller
//! that hangs up (kbagent's timeout, a probe's) cancels nothing, and one scan runs at a time
//! however many callers ask.
//!
//! A caller gets only a scan **begun after it asked**. A scan begun earlier read the broker before
//! the caller's question: a message put in between is not in it, and its "safe" would be false
//! for this caller (an earlier version shared a finished scan for a second, and a backlog put in
//! that second was answered "safe"). Callers that ask while a scan runs share the next one, so a
//! crowd of callers costs the broker at most two scans, and scans begin at least [`MIN_SPACING`]
//! apart, so callers that never pause cost it at most one scan a second.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::admin::BrokerAdmin;

use super::{compute, Backlog, GuardError, Policy};

/// What one scan found.
#[derive(Debug, Clone)]
pub enum Scan {
    Done(Backlog),
    /// This broker is a slave: the verdict is its master's.
    NotMaster {
        broker: String,
        id: String,
    },
    /// The scan itself failed ("cannot tell").
    Failed {
        error: String,
        kind: &'static str,
    },
}

impl From<Result<Backlog, GuardError>> for Scan {
    fn from(result: Result<Backlog, GuardError>) -> Scan {
        match result {
            Ok(b) => Scan::Done(b),
            Err(GuardError::NotMaster { broker, id }) => Scan::NotMaster { broker, id },
            Err(e) => Scan::Failed { error: e.to_string(), kind: e.kind() },
        }
    }
}

/// The n-th scan, finished.
#[derive(Debug)]
struct Finished {
    seq: u64,
    scan: Scan,
}

type ScanFuture = Pin<Box<dyn Future<Output = Scan> + Send>>;

/// Scans begin at least this far apart: callers that ask without pause (a probe pointed at
/// `/scale-in`, a loop) wait a little longer instead of keeping the broker scanning back to back.
pub const MIN_SPACING: Duration = Duration::from_secs(1);

/// A handle on the scanning task; cheap to clone. The task ends when the last handle is dropped.
#[derive(Clone)]
pub struct Scanner {
    /// Wakes the task; capacity 1, as one waiting wake makes it look at `needed` again.
    wake: mpsc::Sender<()>,
    /// How many scans have begun: counted before a scan's first request, so a caller that reads n
    /// is answered by scan n + 1 or later, which read the broker after the caller asked. (A
    /// count, not a clock: two readings of a clock can be equal.)
    begun: Arc<AtomicU64>,
    /// The highest scan number a caller waits for: the task begins a scan only while it is ahead
    /// of `begun`, so a caller that a scan already serves never causes another.
    needed: Arc<AtomicU64>,
    finished: watch::Receiver<Option<Arc<Finished>>>,
}

impl Scanner {
    /// The scanner for the guard's scan of `admin`, each scan bounded by `limit`.
    pub fn for_broker(admin: Arc<BrokerAdmin>, limit: Duration) -> Scanner {
        Scanner::start(move || {
            let admin = admin.clone();
            Box::pin(async move {
                let policy = Policy::default();
                let scan = tokio::time::timeout(limit, compute(admin, &policy)).await;
                scan.unwrap_or(Err(GuardError::Timeout(limit))).into()
            })
        })
    }

    /// Starts the task that runs `scan` whenever a caller needs one.
    pub fn start(scan: impl Fn() -> ScanFuture + Send + 'static) -> Scanner {
        let (wake, mut woken) = mpsc::channel(1);
        let (publish, finished) = watch::channel(None);
        let (begun, needed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (counted, asked_for) = (begun.clone(), needed.clone());
        tokio::spawn(async move {
            let mut next_start = Instant::now();
            while woken.recv().await.is_some() {
                if asked_for.load(Ordering::SeqCst) <= counted.load(Ordering::SeqCst) {
                    continue; // every caller so far is served by a scan begun after it asked
                }
                // Callers that ask during this wait read the old count: the scan below serves them.
                tokio::time::sleep_until(next_start).await;
                let seq = counted.fetch_add(1, Ordering::SeqCst) + 1;
                next_start = Instant::now() + MIN_SPACING;
                // A scan that panics (a bug) is that scan's "cannot tell"; the scanner goes on.
                let result = tokio::spawn(scan()).await.unwrap_or_else(|e| Scan::Failed {
                    error: format!(
                        "the scale-in scan failed inside the sidecar ({e}); this is a bug, please report it"
                    ),
                    kind: "internal",
                });
                publish.send_replace(Some(Arc::new(Finished { seq, scan: result })));
            }
        });
        Scanner { wake, begun, needed, finished }
    }

    /// The first scan begun after this call; None when none finishes within `wait` (the caller's
    /// own bound; the scan goes on). A scan under way when the call comes must end before the
    /// caller's own begins, and scans begin [`MIN_SPACING`] apart, so `wait` should allow for two
    /// scans (or one and the spacing).
    pub async fn get(&self, wait: Duration) -> Option<Scan> {
        let asked = self.begun.load(Ordering::SeqCst);
        self.needed.fetch_max(asked + 1, Ordering::SeqCst);
        let mut finished = self.finished.clone();
        // Full means a wake is waiting: the task then reads `needed`, this caller's included.
        let _ = self.wake.try_send(());
        let next = async {
            let f = finished.wait_for(|f| f.as_ref().is_some_and(|f| f.seq > asked)).await.ok()?;
            f.as_ref().map(|f| f.scan.clone())
        };
        tokio::time::timeout(wait, next).await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A scanner whose scans take `took` (on the paused clock) and count themselves.
    fn counting(took: Duration) -> (Scanner, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let scanner = Scanner::start(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                tokio::time::sleep(took).await;
                Scan::Failed { error: format!("scan {n}"), kind: "test" }
            })
        });
        (scanner, runs)
    }

    fn label(scan: Option<Scan>) -> String {
        match scan {
            Some(Scan::Failed { error, .. }) => error,
            other => format!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_leaves_mid_scan_cancels_nothing_and_the_next_gets_a_scan_begun_after_it_asked() {
        let (scanner, runs) = counting(Duration::from_secs(3));
        // The first caller gives up after 1 s of a 3 s scan (its future is dropped).
        assert!(scanner.get(Duration::from_secs(1)).await.is_none());
        // The next caller asked after scan 1 began: scan 1 runs to its end (2 s more), then its own.
        let started = Instant::now();
        assert_eq!(label(scanner.get(Duration::from_secs(10)).await), "scan 2");
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_scan_that_panics_is_cannot_tell_and_the_next_scan_still_runs() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let scanner = Scanner::start(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                assert!(n > 0, "the first scan panics");
                Scan::Failed { error: "scan 2".into(), kind: "test" }
            })
        });
        let first = scanner.get(Duration::from_secs(5)).await;
        assert!(matches!(first, Some(Scan::Failed { kind: "internal", .. })), "{first:?}");
        assert_eq!(label(scanner.get(Duration::from_secs(5)).await), "scan 2");
    }

    #[tokio::test(start_paused = true)]
    async fn callers_at_once_share_one_scan_and_a_caller_after_it_gets_a_new_one() {
        let (scanner, runs) = counting(Duration::from_millis(400));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let s = scanner.clone();
                tokio::spawn(async move { label(s.get(Duration::from_secs(5)).await) })
            })
            .collect();
        for c in callers {
            assert_eq!(c.await.unwrap(), "scan 1");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // However soon after: a message put since scan 1 read the broker is not in it.
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(label(scanner.get(Duration::from_secs(5)).await), "scan 2");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn callers_arriving_during_a_scan_share_the_next_one_and_scans_never_overlap() {
        let (scanner, runs) = counting(Duration::from_secs(2));
        let first = {
            let s = scanner.clone();
            tokio::spawn(async move { label(s.get(Duration::from_secs(5)).await) })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Mid-scan: ten callers asked after scan 1 began; scan 2 (begun when scan 1 ended) is theirs.
        let during: Vec<_> = (0..10)
            .map(|_| {
                let s = scanner.clone();
                tokio::spawn(async move { label(s.get(Duration::from_secs(5)).await) })
            })
            .collect();
        let started = Instant::now();
        for c in during {
            assert_eq!(c.await.unwrap(), "scan 2");
        }
        assert_eq!(started.elapsed(), Duration::from_secs(3), "scan 1's last second, then scan 2's two");
        assert_eq!(first.await.unwrap(), "scan 1");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "one scan for the ten");
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_asking_without_pause_gets_a_new_scan_each_time_at_most_one_a_second() {
        let (scanner, runs) = counting(Duration::from_millis(100));
        let started = Instant::now();
        let mut answers = Vec::new();
        while started.elapsed() < Duration::from_secs(10) {
            answers.push(label(scanner.get(Duration::from_secs(5)).await));
        }
        let scans = runs.load(Ordering::SeqCst);
        assert!((10..=11).contains(&scans), "{scans} scans in 10 s");
        let fresh: Vec<String> = (1..=scans).map(|n| format!("scan {n}")).collect();
        assert_eq!(answers, fresh, "each answer a scan begun after its call");
    }
}
