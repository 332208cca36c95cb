//! The scale-in scan behind `GET /scale-in`, owned by a task of its own. Callers ask for a scan and
//! read the last finished one as an immutable snapshot; they never run the scan themselves, so a
//! caller that hangs up (kbagent's timeout, a probe's) cancels nothing, and the next caller gets
//! the scan already under way instead of starting it again. One scan runs at a time, and its
//! answer serves every caller for [`SHARED_FOR`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::admin::BrokerAdmin;

use super::{compute, Backlog, GuardError, Policy};

/// How long one finished scan answers every caller.
pub const SHARED_FOR: Duration = Duration::from_secs(1);

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

/// A finished scan: the n-th, finished at `at`.
#[derive(Debug)]
struct Finished {
    seq: u64,
    at: Instant,
    scan: Scan,
}

type ScanFuture = Pin<Box<dyn Future<Output = Scan> + Send>>;

/// A handle on the scanning task; cheap to clone. The task ends when the last handle is dropped.
#[derive(Clone)]
pub struct Scanner {
    /// Capacity 1: a request already waiting covers every caller that arrives before it is taken.
    wanted: mpsc::Sender<()>,
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

    /// Starts the task that runs `scan` whenever a caller wants a fresh answer.
    pub fn start(scan: impl Fn() -> ScanFuture + Send + 'static) -> Scanner {
        let (wanted, mut requests) = mpsc::channel(1);
        let (publish, finished) = watch::channel(None);
        tokio::spawn(async move {
            let mut seq = 0;
            while requests.recv().await.is_some() {
                // A scan that panics (a bug) is that scan's "cannot tell"; the scanner goes on.
                let result = tokio::spawn(scan()).await.unwrap_or_else(|e| Scan::Failed {
                    error: format!(
                        "the scale-in scan failed inside the sidecar ({e}); this is a bug, please report it"
                    ),
                    kind: "internal",
                });
                seq += 1;
                publish.send_replace(Some(Arc::new(Finished { seq, at: Instant::now(), scan: result })));
                // A request made during that scan came from a caller it has just answered.
                while requests.try_recv().is_ok() {}
            }
        });
        Scanner { wanted, finished }
    }

    /// A scan no older than [`SHARED_FOR`], or the next one to finish; None when none finishes
    /// within `wait` (the caller's own bound; the scan goes on for the callers after it).
    pub async fn get(&self, wait: Duration) -> Option<Scan> {
        let mut finished = self.finished.clone();
        let seen = match finished.borrow_and_update().as_ref() {
            Some(f) if f.at.elapsed() < SHARED_FOR => return Some(f.scan.clone()),
            Some(f) => f.seq,
            None => 0,
        };
        // Full means a request is already waiting for the task; it serves this caller too.
        let _ = self.wanted.try_send(());
        let next = async {
            let f = finished.wait_for(|f| f.as_ref().is_some_and(|f| f.seq > seen)).await.ok()?;
            f.as_ref().map(|f| f.scan.clone())
        };
        tokio::time::timeout(wait, next).await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

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
    async fn a_caller_that_leaves_mid_scan_does_not_restart_it_for_the_next() {
        let (scanner, runs) = counting(Duration::from_secs(3));
        // The first caller gives up after 1 s of a 3 s scan (its future is dropped).
        assert!(scanner.get(Duration::from_secs(1)).await.is_none());
        // The next caller gets that same scan when it finishes, 2 s later; no second scan.
        let started = Instant::now();
        assert_eq!(label(scanner.get(Duration::from_secs(10)).await), "scan 1");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
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
        tokio::time::sleep(SHARED_FOR * 2).await;
        assert_eq!(label(scanner.get(Duration::from_secs(5)).await), "scan 2");
    }

    #[tokio::test(start_paused = true)]
    async fn callers_at_once_share_one_scan_and_its_answer_for_a_second() {
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
        tokio::time::sleep(SHARED_FOR / 2).await;
        assert_eq!(label(scanner.get(Duration::from_secs(5)).await), "scan 1", "still shared");
        tokio::time::sleep(SHARED_FOR).await;
        assert_eq!(label(scanner.get(Duration::from_secs(5)).await), "scan 2", "then a fresh scan");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_arriving_during_a_scan_gets_that_scan_and_starts_no_other() {
        let (scanner, runs) = counting(Duration::from_secs(2));
        let first = {
            let s = scanner.clone();
            tokio::spawn(async move { label(s.get(Duration::from_secs(5)).await) })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Mid-scan: the scan under way answers this caller too.
        assert_eq!(label(scanner.get(Duration::from_secs(5)).await), "scan 1");
        assert_eq!(first.await.unwrap(), "scan 1");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "no scan ran for a request the first one answered");
    }
}
