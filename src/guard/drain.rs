//! Graceful drain: take the shard's write permission away so producers route elsewhere, wait
//! until consumers have caught up *and* writes have stopped for the quiet window, and never
//! leave the shard half-drained silently.
//!
//! Writes do not stop when the permission goes: 4.9.6 still accepts sends to non-order topics
//! on a read-only broker, and producers keep the old route until their next route refresh
//! (see [`super::writes`]). So "drained" needs the broker's own write counters unchanged for the
//! quiet window, on top of a zero backlog.
//!
//! Write permission goes through the broker's `brokerPermission` (4 = read-only): 4.9.6 pushes
//! the new permission to every name server at once when that key is updated, and the same
//! update with the old value restores it, so an aborted drain can always be undone.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::admin::{is_master, AdminError, BrokerAdmin};

use super::backlog::{compute, Backlog, Policy, Verdict};
use super::error::GuardError;
use super::writes::now_ms;

pub const READ_ONLY: &str = "4";

#[derive(Debug, Clone)]
pub struct DrainSettings {
    /// What counts, and the quiet window writes must have stopped for.
    pub policy: Policy,
    pub timeout: Duration,
    pub progress_every: Duration,
}

#[derive(Debug)]
pub enum DrainOutcome {
    /// Backlog 0 and no write for the quiet window; the shard stays read-only (it is about to
    /// be removed).
    Drained {
        previous_permission: String,
        took: Duration,
        /// When the write permission went (our clock, ms since the epoch).
        read_only_at_ms: i64,
        /// When the newest message was stored (the broker's clock), if any.
        last_write_ms: Option<i64>,
    },
    /// Timeout or interruption: write permission restored (or the restore failed, with why).
    Aborted { reason: String, remaining: Option<u64>, restored: Result<String, String> },
}

/// One round of the drain, for progress output.
pub struct Progress<'a> {
    pub backlog: &'a Backlog,
    pub at: Duration,
    /// Messages stored per second since the previous round (the broker's put counter); None
    /// in the first round, and when the commit log did not grow.
    pub writes_per_sec: Option<f64>,
    /// How long the broker's commit log has not grown, as this drain observed it.
    pub quiet_for: Duration,
    pub quiet_window: Duration,
}

/// Watches the broker's own write counters (commit-log end and put count) between rounds, on
/// our monotonic clock: independent of the broker's clock, so the quiet window holds even when
/// the two disagree.
struct WriteWatch {
    last: Option<(i64, i64, Instant)>,
    last_change: Instant,
}

impl WriteWatch {
    /// Notes one sample; returns the put rate since the previous one if anything was written.
    fn observe(&mut self, commit_log_end: i64, puts: i64, now: Instant) -> Option<f64> {
        let previous = self.last.replace((commit_log_end, puts, now));
        let (end, p, then) = previous?;
        if end == commit_log_end && p == puts {
            return None;
        }
        self.last_change = now;
        let dt = now.duration_since(then).as_secs_f64().max(1e-3);
        Some(puts.saturating_sub(p) as f64 / dt)
    }
}

async fn write_counters(admin: &BrokerAdmin) -> Result<(i64, i64), AdminError> {
    let info = admin.runtime_info().await?;
    let num = |k: &str| info.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    match (num("commitLogMaxOffset"), num("putMessageTimesTotal")) {
        (Some(end), Some(puts)) => Ok((end, puts)),
        _ => Err(AdminError::Decode {
            what: "write counters",
            addr: admin.addr().to_string(),
            reason: "runtime info lacks commitLogMaxOffset or putMessageTimesTotal".into(),
        }),
    }
}

/// Runs the drain; `progress` receives each round; `interrupted` ends it early (Ctrl-C).
pub async fn drain(
    admin: Arc<BrokerAdmin>,
    settings: &DrainSettings,
    mut progress: impl FnMut(&Progress),
    interrupted: impl Future<Output = ()>,
) -> Result<DrainOutcome, GuardError> {
    let broker = admin.addr().to_string();
    let err = |source| GuardError::Broker { broker: broker.clone(), source };
    let config = admin.config().await.map_err(err)?;
    if !is_master(&config) {
        return Err(GuardError::not_master(broker, &config));
    }
    let previous = config.get("brokerPermission").cloned().unwrap_or_else(|| "6".into());
    // A refusal here (e.g. a non-admin ACL key) changes nothing: report it and stop.
    set_permission(&admin, READ_ONLY).await.map_err(err)?;
    let read_only_at_ms = now_ms();

    let started = Instant::now();
    let quiet_window = settings.policy.quiet_window;
    let mut watch = WriteWatch { last: None, last_change: started };
    tokio::pin!(interrupted);
    let mut remaining = None;
    let abort_reason = loop {
        let step = tokio::select! {
            biased;
            _ = &mut interrupted => break "interrupted".to_string(),
            _ = tokio::time::sleep(settings.timeout.saturating_sub(started.elapsed())) => {
                break format!("timed out after {:?}", settings.timeout)
            }
            step = async { tokio::join!(compute(admin.clone(), &settings.policy), write_counters(&admin)) } => step,
        };
        match step {
            (Ok(backlog), Ok((end, puts))) => {
                let writes_per_sec = watch.observe(end, puts, Instant::now());
                let quiet_for = watch.last_change.elapsed();
                let round =
                    Progress { backlog: &backlog, at: started.elapsed(), writes_per_sec, quiet_for, quiet_window };
                progress(&round);
                remaining = Some(backlog.blocking_messages);
                if backlog.verdict == Verdict::Safe && quiet_for >= quiet_window {
                    let last_write_ms = backlog.writes.last_write_ms;
                    return Ok(DrainOutcome::Drained {
                        previous_permission: previous,
                        took: started.elapsed(),
                        read_only_at_ms,
                        last_write_ms,
                    });
                }
            }
            (Err(e), _) => break format!("backlog check failed: {e}"),
            (_, Err(e)) => break format!("write counters unreadable: {e}"),
        }
        tokio::select! {
            biased;
            _ = &mut interrupted => break "interrupted".to_string(),
            _ = tokio::time::sleep(settings.progress_every) => {}
        }
        // Checked here, not left to the select above: a zero sleep is not ready on its first
        // poll, so without this one more backlog check would start after the deadline.
        if started.elapsed() >= settings.timeout {
            break format!("timed out after {:?}", settings.timeout);
        }
    };
    let restored = match set_permission(&admin, &previous).await {
        Ok(()) => Ok(previous),
        Err(e) => Err(format!(
            "{e}; restore it with: rocketmq-sidecar reconfigure --broker {broker} brokerPermission {previous}"
        )),
    };
    Ok(DrainOutcome::Aborted { reason: abort_reason, remaining, restored })
}

/// Sets brokerPermission and verifies it by reading back.
pub(super) async fn set_permission(admin: &BrokerAdmin, perm: &str) -> Result<(), crate::admin::AdminError> {
    let pairs: BTreeMap<String, String> = [("brokerPermission".to_string(), perm.to_string())].into();
    admin.update_config(&pairs).await?;
    let now = admin.config().await?;
    match now.get("brokerPermission") {
        Some(p) if p == perm => Ok(()),
        other => Err(crate::admin::AdminError::Decode {
            what: "brokerPermission after update",
            addr: admin.addr().to_string(),
            reason: format!("expected {perm}, broker says {other:?}").into(),
        }),
    }
}
