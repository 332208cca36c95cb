//! The reload loop inside `serve`: keep the broker's dynamic parameters equal to the file.
//!
//! A cycle = read and validate the file, read the broker's config, diff, send what changed in
//! one request, verify. It runs when the file changes (debounced) and every `interval`, which
//! also catches drift: a broker restarted on an old config file, or a value changed behind our
//! back, gets the desired values again. Broker errors back off exponentially.

use std::future::Future;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use crate::admin::BrokerAdmin;

use super::apply::apply;
use super::desired::Desired;
use super::error::ReloadError;
use super::plan::Plan;
use super::status::{Outcome, ReloadState};
use super::watch::watch;
use crate::params::Release;

/// How long a shutdown waits for a reload pass in flight.
const FINISH_BOUND: Duration = Duration::from_secs(8);

#[derive(Debug, Clone)]
pub struct ReloadSettings {
    pub file: PathBuf,
    pub interval: Duration,
    pub debounce: Duration,
    pub max_backoff: Duration,
}

pub async fn run(
    admin: BrokerAdmin,
    settings: ReloadSettings,
    state: Arc<ReloadState>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut watch = match watch(&settings.file, settings.debounce, settings.debounce * 5) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(file = %settings.file.display(), error = %e, "cannot watch the config file; re-reading it every interval instead");
            None
        }
    };
    let mut failures = 0u32;
    loop {
        let span = tracing::info_span!("reload", broker = %admin.addr(), file = %settings.file.display());
        let pass = cycle(&admin, &settings, &state).instrument(span);
        tokio::pin!(pass);
        let outcome = tokio::select! {
            biased;
            outcome = &mut pass => outcome,
            _ = &mut shutdown => {
                // Never stop between an update and its verification (or rollback): finish the
                // pass in flight, bounded by a few requests' time.
                let bound = FINISH_BOUND;
                if tokio::time::timeout(bound, pass).await.is_err() {
                    tracing::warn!(after = ?bound, "reload pass still running at shutdown; abandoned");
                }
                return;
            }
        };
        failures = if outcome == Outcome::Error { failures + 1 } else { 0 };
        let wait = next_pass_after(failures, &settings);
        let file_changed = async {
            match watch.as_mut() {
                Some(w) => {
                    if w.changes.recv().await.is_none() {
                        std::future::pending::<()>().await
                    }
                    w.refresh();
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            _ = file_changed => tracing::debug!("config file changed"),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// How long to wait before the next pass, after `failures` broker errors in a row: the interval
/// when the last pass reached the broker; else 1 s doubling, at most `max_backoff`, and never
/// longer than the interval (a file change ends any wait at once).
pub fn next_pass_after(failures: u32, settings: &ReloadSettings) -> Duration {
    match failures {
        0 => settings.interval,
        n => (Duration::from_secs(1).saturating_mul(2u32.saturating_pow(n - 1)))
            .min(settings.max_backoff)
            .min(settings.interval),
    }
}

/// One reconcile pass; records and logs its outcome. Values the broker did not take are set
/// aside until the file changes: sent once, rolled back, reported, never retried in a loop.
pub async fn cycle(admin: &BrokerAdmin, settings: &ReloadSettings, state: &ReloadState) -> Outcome {
    let desired = match Desired::from_file_off_runtime(&settings.file).await {
        Ok(d) => d,
        Err(e) => return state.record_error(&e),
    };
    let desired = state.without_set_aside(desired);
    let live = match admin.config().await {
        Ok(c) => c,
        Err(e) => return state.record_error(&ReloadError::Broker(e)),
    };
    let desired = match desired.for_release(Release::for_broker(admin.version())) {
        Ok(d) => d,
        Err(e) => return state.record_error(&e),
    };
    let plan = Plan::compute(&desired, &live);
    match apply(admin, &plan).await {
        Ok(sent) => state.record_plan(&plan, sent),
        Err(e) => {
            if let ReloadError::NotTaken { missed, .. } = &e {
                state.set_aside(desired.fingerprint, &plan, missed);
            }
            state.record_error(&e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_errors_back_off_doubling_within_the_bounds_and_a_success_resets_it() {
        let settings = ReloadSettings {
            file: PathBuf::from("broker.conf"),
            interval: Duration::from_secs(10),
            debounce: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        };
        let waits: Vec<u64> = (0..7).map(|n| next_pass_after(n, &settings).as_secs()).collect();
        assert_eq!(waits, [10, 1, 2, 4, 8, 10, 10], "capped by the interval");
        let long = ReloadSettings { interval: Duration::from_secs(600), ..settings };
        assert_eq!(next_pass_after(7, &long), Duration::from_secs(30), "capped by max_backoff");
        assert_eq!(next_pass_after(u32::MAX, &long), Duration::from_secs(30), "no overflow");
    }
}
