//! The background role check of `serve`: every interval, logged on change, timed for metrics.

use std::future::Future;

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

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
    let check = || async {
        let started = tokio::time::Instant::now();
        let span = tracing::info_span!("role_check", broker = %probe.broker_addr());
        let outcome = probe.check(limit, true).instrument(span).await;
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
    };
    crate::periodic::every(state.interval(), shutdown, check).await
}
