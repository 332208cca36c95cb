//! Many requests at once: to one broker, with a bound (they share the one pipelined connection,
//! so a thousand topics cost about as many round trips as the bound allows in flight); and one
//! request to every peer of a set (name servers, controllers), where the first good answer wins.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::remoting::codes::response::TOPIC_NOT_EXIST;
use crate::remoting::{Client, ClientOptions, Command, RemotingError};

use super::{AdminError, BrokerAdmin, TopicStats};

/// Requests in flight at once on a broker's connection by default (the scan, the metrics refresh).
/// A 4.9.6 broker answers one GET_CONSUMER_CONNECTION_LIST in ~20–35 µs of its CPU, so at 16 in
/// flight a 10,000-group scan waited on round trips (0.29 s); at 64 both cores stay busy (0.22 s,
/// and ~25 % less broker CPU: fewer wake-ups per request); 128 gains nothing more
/// (benches/curve.sh, README's cost curve).
pub const IN_FLIGHT: usize = 64;

/// Runs `f` on every item, `concurrency` at a time (requests share the one pipelined
/// connection); stops at the first error. Only `concurrency` tasks exist at once: a task per item
/// up front would hold thousands of request futures (kilobytes each) at a 10,000-group refresh.
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
    let mut waiting = items.into_iter();
    let mut tasks = JoinSet::new();
    let mut out = Vec::new();
    loop {
        while tasks.len() < concurrency.max(1) {
            let Some(item) = waiting.next() else { break };
            let (admin, f) = (admin.clone(), f.clone());
            tasks.spawn(async move {
                let r = f(admin, &item).await;
                (item, r)
            });
        }
        let Some(joined) = tasks.join_next().await else { return Ok(out) };
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

/// One client per address of a `host:port;host:port` list (commas and blanks also accepted).
pub(super) fn peer_clients(addrs: &str, opts: &ClientOptions) -> Vec<Arc<Client>> {
    let addrs = addrs.split([';', ',', ' ', '\n', '\t']).map(str::trim).filter(|a| !a.is_empty());
    addrs.map(|a| Arc::new(Client::new(a, opts.clone()))).collect()
}

/// Why no peer of a set gave a good answer.
pub(super) enum Unanswered {
    /// One answered and said no (reported only when none answered well).
    Refused(RemotingError),
    /// None answered.
    Failed(Vec<RemotingError>),
}

/// Sends `make()` to every client at once; the first SUCCESS answer wins and the slower requests
/// are cancelled, so a silent peer costs nothing while another answers.
pub(super) async fn first_answer(
    clients: &[Arc<Client>],
    make: impl Fn() -> Command,
) -> Result<(String, Command), Unanswered> {
    let mut asked: JoinSet<(String, Result<Command, RemotingError>)> = JoinSet::new();
    for client in clients {
        let (client, cmd) = (client.clone(), make());
        asked.spawn(async move { (client.addr().to_string(), client.invoke_ok(cmd).await) });
    }
    let (mut errors, mut refusal) = (Vec::new(), None);
    while let Some(joined) = asked.join_next().await {
        let Ok((addr, answer)) = joined else { continue };
        match answer {
            // Dropping the set cancels the slower requests.
            Ok(resp) => return Ok((addr, resp)),
            Err(e) if e.is_refusal() => refusal = refusal.or(Some(e)),
            Err(e) => {
                tracing::debug!(peer = %addr, error = %e, "peer unavailable");
                errors.push(e)
            }
        }
    }
    Err(refusal.map_or(Unanswered::Failed(errors), Unanswered::Refused))
}
