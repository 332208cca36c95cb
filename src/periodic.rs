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
