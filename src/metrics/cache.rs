//! The broker metrics cache: refreshed by its own loop every interval (its only writer, which
//! publishes an immutable [`CacheView`] after each refresh), read by scrapes. A scrape only takes
//! the last view, so it never waits on the broker; a failed refresh drops
//! the broker series (a stale lag is a lie) and is counted by kind.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::admin::BrokerAdmin;
use crate::guard::GuardError;

use super::broker::{collect, Collected, Limits, Snapshot};

/// A busy broker with thousands of groups can take seconds to list; a short interval must not
/// turn that into a permanent timeout.
pub const MIN_REFRESH_LIMIT: Duration = Duration::from_secs(10);

/// What the agent metrics read about the cache at scrape time: an immutable snapshot that the
/// refresh loop (the only writer) replaces whole after each refresh.
#[derive(Debug, Clone, Default)]
pub struct CacheView {
    pub snapshot: Option<Arc<Snapshot>>,
    pub last_ok: Option<SystemTime>,
    pub last_duration: Option<Duration>,
    pub errors: BTreeMap<&'static str, u64>,
    /// Messages that would block a scale-in (masters only).
    pub backlog: Option<u64>,
    /// Refreshes that used the previous refresh's topic stats (nothing put since they were read).
    pub topic_stats_kept: u64,
    /// Refreshes that caught the previous refresh's topic stats up from the commit log.
    pub topic_stats_caught_up: u64,
    /// Topics whose kept stats refreshes read again in their turn.
    pub topics_read_again: u64,
}

pub struct BrokerMetrics {
    interval: Duration,
    limits: Limits,
    current: RwLock<Arc<CacheView>>,
    runtime: super::runtime::RuntimeSampler,
    /// What one refresh hands the next (only the refresh loop uses it).
    carried: std::sync::Mutex<Carried>,
}

/// What one refresh hands the next.
#[derive(Default)]
struct Carried {
    /// Which minute statistics are known to be 0.
    quiet: super::quiet::Quiet,
    /// What the next refresh's read may carry over: kept topic stats, when each group's online
    /// consumers were last asked.
    carry: crate::guard::Carry,
}

impl BrokerMetrics {
    pub fn new(interval: Duration, limits: Limits) -> BrokerMetrics {
        BrokerMetrics {
            interval,
            limits,
            current: RwLock::default(),
            runtime: Default::default(),
            carried: Default::default(),
        }
    }

    pub fn view(&self) -> Arc<CacheView> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn carried(&self) -> std::sync::MutexGuard<'_, Carried> {
        self.carried.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, next: CacheView) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }

    /// One refresh, bounded by the interval but at least [`MIN_REFRESH_LIMIT`] (refreshes never
    /// overlap: the next one starts after this one ends).
    pub async fn refresh(&self, admin: &Arc<BrokerAdmin>) {
        let started = Instant::now();
        let limit = self.interval.max(MIN_REFRESH_LIMIT);
        let span = tracing::info_span!("metrics_refresh", broker = %admin.addr());
        // Taken out for the refresh (only this loop uses it) and replaced by what it hands on.
        let Carried { quiet: previous, carry } = std::mem::take(&mut *self.carried());
        let collected = collect(admin.clone(), &self.limits, &self.runtime, (&previous, carry));
        let outcome = tokio::time::timeout(limit, tracing::Instrument::instrument(collected, span))
            .await
            .unwrap_or(Err(GuardError::Timeout(limit)));
        let mut s = CacheView::clone(&self.view());
        s.last_duration = Some(started.elapsed());
        match outcome {
            Ok(Collected { snapshot, backlog, quiet, carry, stats_read }) => {
                *self.carried() = Carried { quiet: quiet.unwrap_or_default(), carry: carry.unwrap_or_default() };
                drop(previous);
                let source = stats_read.map(|r| r.source);
                s.topic_stats_kept += u64::from(source == Some(crate::guard::StatsSource::Kept));
                s.topic_stats_caught_up += u64::from(source == Some(crate::guard::StatsSource::CaughtUp));
                s.topics_read_again += stats_read.map_or(0, |r| r.read_again as u64);
                s.snapshot = Some(Arc::new(snapshot));
                s.last_ok = Some(SystemTime::now());
                s.backlog = match backlog {
                    Some(Ok(b)) => Some(b.blocking_messages),
                    None => None, // a slave
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "scale-in backlog not refreshed");
                        None
                    }
                };
            }
            Err(e) => {
                // The quiet marks stay; the read's carry does not outlive a failed refresh.
                *self.carried() = Carried { quiet: previous, carry: Default::default() };
                if s.snapshot.take().is_some() {
                    tracing::warn!(error = %e, "broker metrics unavailable");
                }
                s.backlog = None;
                *s.errors.entry(e.kind()).or_default() += 1;
            }
        }
        self.publish(s);
    }
}

/// Refreshes every interval until `shutdown` resolves.
pub async fn run(admin: Arc<BrokerAdmin>, cache: Arc<BrokerMetrics>, shutdown: impl Future<Output = ()>) {
    crate::periodic::every(cache.interval, shutdown, || cache.refresh(&admin)).await
}
