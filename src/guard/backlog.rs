//! Unconsumed messages on one broker: for every group and topic it consumes, per queue, the
//! broker's max offset minus the group's committed offset (never below 0); plus retry topics,
//! pending delayed messages, uncommitted transaction half messages, dead-letter topics and
//! topics no group consumes. Built from one request each for topics, groups, consumer offsets
//! and delay offsets, and one GET_TOPIC_STATS_INFO per topic (all queues at once), run
//! concurrently with a bound.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::admin::{
    bounded, is_system_topic, own_topics, topic_stats, AdminError, BrokerAdmin, BrokerConfig, ConsumerOffsets,
    TopicConfig, TopicOffsets, DLQ_PREFIX, RETRY_PREFIX,
};
use serde::Serialize;

use super::error::GuardError;

const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
const HALF_GROUP: &str = "CID_RMQ_SYS_TRANS";

/// What counts as unconsumed (each default is the fail-closed one).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Delayed messages not yet delivered block (default true).
    pub count_delayed: bool,
    /// Uncommitted transaction half messages block (default true).
    pub count_half: bool,
    /// Dead-letter topics and topics no group consumes also block (default false).
    pub strict: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { count_delayed: true, count_half: true, strict: false, concurrency: 16 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// A group behind on a topic it consumes.
    Consumer,
    /// Messages waiting for redelivery in `%RETRY%<group>`.
    Retry,
    /// Delayed messages the schedule service has not delivered yet.
    Delayed,
    /// Transaction half messages not yet committed or rolled back.
    HalfTransaction,
    /// Messages in `%DLQ%<group>` nobody consumes.
    DeadLetter,
    /// A topic with messages that no group has offsets for.
    Unconsumed,
    /// A BROADCASTING group: offsets live on the clients; the broker's copy is stale.
    Broadcast,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub group: Option<String>,
    pub topic: String,
    pub kind: Kind,
    pub queues_behind: u32,
    pub messages: u64,
    /// Whether this row makes the shard unsafe under the policy.
    pub blocks: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backlog {
    pub broker: String,
    pub safe: bool,
    /// Messages that block the scale-in.
    pub blocking_messages: u64,
    pub rows: Vec<Row>,
    pub groups: usize,
    pub topics: usize,
}

/// Everything the guard reads from a master in one pass (the metrics reuse it): topics, groups,
/// committed and delay offsets, config, and every topic's queue offsets.
pub struct BrokerOffsets {
    pub topics: BTreeMap<String, TopicConfig>,
    pub groups: usize,
    pub offsets: ConsumerOffsets,
    delay: BTreeMap<u32, i64>,
    config: BrokerConfig,
    /// Min and max offset per (write) queue of every topic, as GET_TOPIC_STATS_INFO reports them.
    pub stats: BTreeMap<String, TopicOffsets>,
}

pub async fn compute(admin: Arc<BrokerAdmin>, policy: &Policy) -> Result<Backlog, GuardError> {
    let offsets = read(&admin, policy.concurrency).await?;
    evaluate(admin, &offsets, policy).await
}

/// Reads what [`evaluate`] needs; fails with [`GuardError::NotMaster`] before the per-topic
/// requests when the broker is a slave.
pub async fn read(admin: &Arc<BrokerAdmin>, concurrency: usize) -> Result<BrokerOffsets, GuardError> {
    let broker = admin.addr().to_string();
    let err = |source: AdminError| GuardError::Broker { broker: broker.clone(), source };
    let (topics, groups, offsets, delay, config) = tokio::join!(
        admin.topic_configs(),
        admin.groups(),
        admin.consumer_offsets(),
        admin.delay_offsets(),
        admin.config()
    );
    let (topics, groups, offsets, delay, config) =
        (topics.map_err(err)?, groups.map_err(err)?, offsets.map_err(err)?, delay.map_err(err)?, config.map_err(err)?);
    if let Some(id) = config.get("brokerId").filter(|id| id.as_str() != "0") {
        return Err(GuardError::NotMaster { broker, id: id.clone() });
    }
    let stats = topic_stats(admin, topics.keys().cloned().collect(), concurrency).await.map_err(err)?;
    Ok(BrokerOffsets { topics, groups: groups.len(), offsets, delay, config, stats })
}

/// The backlog from one [`read`]: asks the broker only for queues the topic stats left out and
/// for the message model of groups that are behind.
pub async fn evaluate(admin: Arc<BrokerAdmin>, read: &BrokerOffsets, policy: &Policy) -> Result<Backlog, GuardError> {
    let broker = admin.addr().to_string();
    let err = |source: AdminError| GuardError::Broker { broker: broker.clone(), source };
    let BrokerOffsets { topics, groups, offsets, delay, config, .. } = read;
    // The broker's own cluster, broker-name and reply topics are system topics too.
    let own = own_topics(config);

    let mut stats = read.stats.clone();
    for (topic, queues) in stats.iter_mut() {
        let read_queues = topics.get(topic).map_or(0, |t| t.read_queue_nums);
        for q in 0..read_queues {
            if let std::collections::btree_map::Entry::Vacant(slot) = queues.entry(q) {
                slot.insert((0, admin.max_offset(topic, q).await.map_err(err)?));
            }
        }
    }
    let mut rows = Vec::new();
    let mut consumed: BTreeSet<&str> = BTreeSet::new();

    for ((topic, group), committed) in offsets {
        let Some(queues) = stats.get(topic) else { continue }; // topic deleted: its messages are gone
        if topic == HALF_TOPIC || topic == SCHEDULE_TOPIC {
            continue;
        }
        consumed.insert(topic);
        let kind = if topic.starts_with(RETRY_PREFIX) {
            Kind::Retry
        } else if topic.starts_with(DLQ_PREFIX) {
            Kind::DeadLetter
        } else {
            Kind::Consumer
        };
        let blocks = kind != Kind::DeadLetter || policy.strict;
        push(&mut rows, Some(group), topic, kind, blocks, behind(queues, committed));
    }
    mark_broadcast(&admin, &mut rows, policy.concurrency).await.map_err(err)?;
    for (topic, queues) in &stats {
        if consumed.contains(topic.as_str()) {
            continue;
        }
        let lags = behind(queues, &BTreeMap::new());
        if let Some(group) = topic.strip_prefix(RETRY_PREFIX) {
            push(&mut rows, Some(group), topic, Kind::Retry, true, lags);
        } else if let Some(group) = topic.strip_prefix(DLQ_PREFIX) {
            push(&mut rows, Some(group), topic, Kind::DeadLetter, policy.strict, lags);
        } else if topic == SCHEDULE_TOPIC {
            // Queue N holds delay level N+1; the schedule service's progress is per level.
            let delivered: BTreeMap<u32, i64> =
                delay.iter().map(|(level, off)| (level.saturating_sub(1), *off)).collect();
            push(&mut rows, None, topic, Kind::Delayed, policy.count_delayed, behind(queues, &delivered));
        } else if topic == HALF_TOPIC {
            let checked = offsets.get(&(HALF_TOPIC.to_string(), HALF_GROUP.to_string())).cloned().unwrap_or_default();
            push(&mut rows, None, topic, Kind::HalfTransaction, policy.count_half, behind(queues, &checked));
        } else if !is_system_topic(topic, &own) {
            push(&mut rows, None, topic, Kind::Unconsumed, policy.strict, lags);
        }
    }
    rows.sort_by(|a, b| (!a.blocks, a.kind, &a.group, &a.topic).cmp(&(!b.blocks, b.kind, &b.group, &b.topic)));
    let blocking_messages = rows.iter().filter(|r| r.blocks).map(|r| r.messages).sum();
    Ok(Backlog { broker, safe: blocking_messages == 0, blocking_messages, rows, groups: *groups, topics: topics.len() })
}

/// BROADCASTING consumers keep offsets on the clients, so the broker's offsets for such a group
/// are stale, not backlog. The message model is only known from online consumers (the
/// subscription group's `consumeBroadcastEnable` is a permission, true by default), so only
/// groups that are behind are asked, and an offline group counts as clustering (fail closed).
async fn mark_broadcast(admin: &Arc<BrokerAdmin>, rows: &mut [Row], concurrency: usize) -> Result<(), AdminError> {
    let behind: BTreeSet<String> =
        rows.iter().filter(|r| r.kind == Kind::Consumer).filter_map(|r| r.group.clone()).collect();
    let broadcast = bounded(admin, behind.into_iter().collect(), concurrency, |admin, group: &String| {
        let group = group.clone();
        async move {
            Ok((admin.online_consumers(&group).await?.is_some_and(|c| c.message_model == "BROADCASTING")).then_some(()))
        }
    })
    .await?;
    for (group, ()) in broadcast {
        for r in rows.iter_mut().filter(|r| r.group.as_deref() == Some(group.as_str()) && r.kind == Kind::Consumer) {
            r.kind = Kind::Broadcast;
            r.blocks = false;
        }
    }
    Ok(())
}

/// Per-queue lag: max − committed, never below 0; a queue with no committed offset counts
/// everything still stored (max − min): unknown progress is not progress.
fn behind(queues: &TopicOffsets, committed: &BTreeMap<u32, i64>) -> Vec<u64> {
    queues
        .iter()
        .map(|(q, (min, max))| {
            let from = committed.get(q).copied().unwrap_or(*min);
            (max - from).max(0) as u64
        })
        .collect()
}

fn push(rows: &mut Vec<Row>, group: Option<&str>, topic: &str, kind: Kind, blocks: bool, lags: Vec<u64>) {
    let messages: u64 = lags.iter().sum();
    if messages == 0 {
        return;
    }
    let queues_behind = lags.iter().filter(|l| **l > 0).count() as u32;
    rows.push(Row {
        group: group.map(str::to_string),
        topic: topic.to_string(),
        kind,
        queues_behind,
        messages,
        blocks,
    });
}
