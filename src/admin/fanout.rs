//! Many requests to one broker at once, with a bound: they share the one pipelined connection,
//! so a thousand topics cost about as many round trips as the bound allows in flight.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::remoting::codes::response::TOPIC_NOT_EXIST;
use crate::remoting::RemotingError;

use super::{AdminError, BrokerAdmin, TopicStats};

/// Runs `f` on every item, `concurrency` at a time (requests share the one pipelined
/// connection); stops at the first error.
pub async fn bounded<T, R, F, Fut>(
    admin: &Arc<BrokerAdmin>,
    items: Vec<T>,
    concurrency: usize,
    f: F,
) -> Result<Vec<(T, R)>, AdminError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(Arc<BrokerAdmin>, &T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Option<R>, AdminError>> + Send,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for item in items {
        let (admin, permits, f) = (admin.clone(), permits.clone(), f.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let r = f(admin, &item).await;
            (item, r)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (item, r) = joined.expect("broker request task panicked");
        match r {
            Ok(Some(r)) => out.push((item, r)),
            Ok(None) => {}
            Err(e) => {
                tasks.abort_all();
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Offsets of every (write) queue of every topic, one GET_TOPIC_STATS_INFO per topic.
pub async fn topic_stats(
    admin: &Arc<BrokerAdmin>,
    topics: Vec<String>,
    concurrency: usize,
) -> Result<BTreeMap<String, TopicStats>, AdminError> {
    let stats = bounded(admin, topics, concurrency, |admin, topic: &String| {
        let topic = topic.clone();
        async move {
            match admin.topic_offsets(&topic).await {
                Ok(s) => Ok(Some(s)),
                // Deleted between the two requests: nothing left to lose on that topic.
                Err(AdminError::Remoting(RemotingError::Refused { code: TOPIC_NOT_EXIST, .. })) => Ok(None),
                Err(e) => Err(e),
            }
        }
    })
    .await?;
    Ok(stats.into_iter().collect())
}
