use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{ProbeState, Role, RoleEvent, RoleProbe};

fn name(r: Option<Role>) -> &'static str {
    r.map(Role::as_str).unwrap_or("unknown")
}

/// Told how long each check took and, when it failed, the error's kind (metrics).
pub type CheckObserver = Arc<dyn Fn(Duration, Option<&'static str>) + Send + Sync>;

/// Checks the broker every interval until `shutdown` resolves; each check is bounded by `limit`.
/// The first result is logged; later role changes are logged once (old -> new) and counted.
pub async fn run(
    probe: Arc<RoleProbe>,
    state: Arc<ProbeState>,
    limit: Duration,
    observer: Option<CheckObserver>,
    shutdown: impl Future<Output = ()>,
) {
    let mut ticker = tokio::time::interval(state.interval());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        // `biased`: shutdown wins over a due tick, and it also cancels a check in flight, so a
        // hanging broker never delays SIGTERM.
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        let started = tokio::time::Instant::now();
        let outcome = tokio::select! {
            biased;
            _ = &mut shutdown => return,
            outcome = probe.check(limit, true) => outcome,
        };
        if let Some(observe) = &observer {
            observe(started.elapsed(), outcome.as_ref().err().map(|e| e.kind()));
        }
        let reason = outcome.as_ref().err().map(|e| e.to_string());
        match state.record(&outcome) {
            RoleEvent::Initial(role) => tracing::info!(role = name(role), reason, "first check"),
            RoleEvent::Changed { from, to: None } => {
                tracing::warn!(from = name(from), to = "unknown", reason, "role changed")
            }
            RoleEvent::Changed { from, to } => {
                tracing::info!(from = name(from), to = name(to), "role changed")
            }
            RoleEvent::Unchanged => {}
        }
    }
}
