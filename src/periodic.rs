//! The loop behind every background poller: run a job every interval until shutdown.

use std::future::Future;
use std::time::Duration;

/// Runs `job` every `interval` until `shutdown` resolves. A late tick is delayed, not bunched, so
/// a slow job never causes a burst. Shutdown wins over a due tick and cancels a job in flight,
/// so a hanging broker never delays SIGTERM.
pub async fn every<F, Fut>(interval: Duration, shutdown: impl Future<Output = ()>, mut job: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            biased;
            _ = &mut shutdown => return,
            _ = job() => {}
        }
    }
}

/// Requests that cost the broker real work (GET_BROKER_RUNTIME_INFO: ~60–100 ms of a 5.5.0
/// broker's CPU, under a millisecond on 4.9.6) are asked again only after this many times as long
/// as the answer took, so answering them takes the broker at most ~1/400 (0.25 %) of its time.
pub const COST_FACTOR: u32 = 400;

/// How long an answer that took `took` is reused before asking again: [`COST_FACTOR`] times the
/// faster of this answer and the one before (`last_took`), so one answer slowed by a connect or
/// a cold JIT does not stretch it, and never longer than `max_age`; the first answer is not
/// reused at all (it had nothing to compare with). A slow or loaded broker is asked less often,
/// never more.
pub fn spaced_by_cost(took: Duration, last_took: Option<Duration>, max_age: Duration) -> Duration {
    last_took.map_or(Duration::ZERO, |last| took.min(last).saturating_mul(COST_FACTOR).min(max_age))
}
