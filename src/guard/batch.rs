//! Where a verdict's queues end, from one GET_BROKER_CONSUME_STATS instead of one
//! GET_TOPIC_STATS_INFO per topic. At 10,000 topics the per-topic requests cost a 4.9.6 broker
//! ~370 ms of CPU (~37 µs each at 64 in flight); the one batch request about 130 ms, on one of its
//! threads.
//!
//! The batch answer has, for every subscription group and every topic it has committed offsets
//! on, each write queue's max offset and the store time of the message just before the group's
//! position. It is used only for what it tells exactly:
//! - a queue's max offset (read after the caller's committed offsets, as the per-topic stats are:
//!   see [`super::read`] on the order);
//! - the newest message's store time, which the quiet-window rule needs, only where some group's
//!   position was the max (or the queue is empty). A topic with a queue where none was is asked
//!   for its own stats, as is every topic the answer leaves out or shows with fewer queues, and
//!   every topic whose committed offsets are a broker service's own (revive, half, schedule).
//!
//! It has no queue's min offset. A topic taken from it carries 0 as its min, which can only make
//! a lag counted from the min larger ([`super::rows::behind`]), never smaller: a verdict read so
//! is "safe" only when it is. Its topics are listed in [`BrokerOffsets::min_unknown`], and
//! [`super::compute`] asks the real stats of those whose count the min could have moved before
//! it answers ([`overstated`]).
//!
//! The broker builds the answer by scanning its whole offset table once per subscription group,
//! so with many groups it costs far more than it saves (at 10,000 groups, minutes): it is asked
//! only when groups × offset-table rows is small for the topics it saves ([`worth_asking`]), and
//! when its answer fits well inside a frame.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::admin::{
    topic_stats, AdminError, BatchQueue, BatchQueues, BrokerAdmin, ConsumerOffsets, TopicConfig, TopicOffsets,
};

use crate::sorted::{walk_to, InOrder};

use super::backlog::Backlog;
use super::kept::ReadStats;
use super::read::BrokerOffsets;
use super::rows::committed_kind;

/// How a verdict reads where each queue ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueEnds {
    /// The batch request when [`worth_asking`] says so, else per topic.
    #[default]
    Auto,
    /// One GET_TOPIC_STATS_INFO per topic, always.
    PerTopic,
    /// The batch request whenever its answer fits a frame, however many groups the broker has.
    Batch,
}

/// Group × offset-table-row pairs the broker may scan per topic the batch saves: at ~0.5 µs a
/// pair, 16 cost ~8 µs, against ~37 µs for a topic's own request.
const PAIRS_PER_TOPIC_SAVED: usize = 16;

/// What one queue row of the batch answer takes (a MessageQueue key and three numbers, ~155
/// bytes), rounded up.
const BYTES_PER_QUEUE_ROW: usize = 200;

/// Whether the batch request is worth asking a broker with `groups` subscription groups and these
/// committed offsets, and whether its answer fits half of `max_frame`. Decided before the topic
/// table is in, so that the request goes beside that read: the answer has a row per queue of every
/// topic a group has offsets on (estimated from the queues committed), and it saves a request for
/// each of those topics at most.
pub(super) fn worth_asking(ends: QueueEnds, groups: usize, offsets: &ConsumerOffsets, max_frame: usize) -> bool {
    if ends == QueueEnds::PerTopic {
        return false;
    }
    let rows: usize = offsets.values().map(BTreeMap::len).sum();
    let fits = rows.saturating_mul(BYTES_PER_QUEUE_ROW) <= max_frame / 2;
    let topics: BTreeSet<&str> = offsets.keys().map(|(topic, _)| topic.as_str()).collect();
    let scan = groups.saturating_mul(offsets.len());
    fits && (ends == QueueEnds::Batch || scan <= PAIRS_PER_TOPIC_SAVED.saturating_mul(topics.len()))
}

/// The batch answer, asked when [`worth_asking`] says so (an empty answer otherwise: every topic
/// is then asked for its own stats by [`read_ends`]). A request the broker
/// refuses (the broker or its ACL, a release without it), an answer over the frame limit (the
/// estimate's guard) or one that does not decode is logged and reads as an empty answer: every
/// topic is then asked for its own stats, as the batch is an economy, never a requirement. One
/// that times out or loses the connection fails the read, as any request of it would: asking
/// every topic next would only spend a second budget on an unanswering broker.
pub(super) async fn ask_if_worth_it(
    admin: &BrokerAdmin,
    ends: QueueEnds,
    groups: usize,
    offsets: &ConsumerOffsets,
) -> Result<BatchQueues, AdminError> {
    if !worth_asking(ends, groups, offsets, admin.max_frame()) {
        return Ok(BatchQueues::new());
    }
    match admin.consume_stats_batch().await {
        Ok(batch) => Ok(batch),
        Err(e) if is_not_for_us(&e) => {
            tracing::warn!(broker = %admin.addr(), error = %e, "GET_BROKER_CONSUME_STATS failed; reading every topic's stats");
            Ok(BatchQueues::new())
        }
        Err(e) => Err(e),
    }
}

/// Every topic's queue ends for a verdict: from the batch answer where it tells them exactly,
/// from each remaining topic's own stats otherwise (every topic's, from an empty answer). Also
/// returns the topics whose min offsets are placeholders (0).
pub(super) async fn read_ends(
    admin: &Arc<BrokerAdmin>,
    topics: &BTreeMap<String, TopicConfig>,
    offsets: &ConsumerOffsets,
    batch: BatchQueues,
    concurrency: usize,
) -> Result<(ReadStats, BTreeSet<String>), AdminError> {
    let (taken, ask) = split(&batch, topics, offsets);
    tracing::debug!(from_batch = taken.len(), asked = ask.len(), "queue ends");
    let mut read = ReadStats::from_topic_stats(topic_stats(admin, ask, concurrency).await?);
    let mut min_unknown = Vec::new();
    for (topic, (queues, newest_ms)) in &taken {
        read.saw_store(topic, *newest_ms);
        if queues.values().any(|(_, max)| *max > 0) {
            min_unknown.push(topic.clone());
        }
    }
    // The only holder of the table just built: merged in place (both sorted), not copied; the
    // taken topics, already in name order, built once.
    let mut taken: BTreeMap<String, TopicOffsets> =
        taken.into_iter().map(|(topic, (queues, _))| (topic, queues)).collect();
    Arc::make_mut(&mut read.stats).append(&mut taken);
    Ok((read, min_unknown.into_iter().collect()))
}

/// Whether a failed batch request says only that this request is not for us (refused by the
/// broker or its ACL, an answer larger than the frame limit, or one that does not decode), not
/// that the broker is not answering.
fn is_not_for_us(e: &AdminError) -> bool {
    use crate::remoting::RemotingError::{AclDenied, Refused, TooLarge};
    matches!(e, AdminError::Decode { .. } | AdminError::Remoting(Refused { .. } | AclDenied { .. } | TooLarge { .. }))
}

/// Topics taken from the batch answer, in name order: their queues (min 0) and newest store time.
type Taken = Vec<(String, (TopicOffsets, i64))>;

/// The topics the batch answer tells exactly (their queues with min 0, and their newest store
/// time), in name order, and the topics to ask one by one.
fn split(
    batch: &BatchQueues,
    topics: &BTreeMap<String, TopicConfig>,
    offsets: &ConsumerOffsets,
) -> (Taken, Vec<String>) {
    // The three tables are sorted by topic: walked together in order, not searched per topic.
    let mut with_offsets = offsets.keys().map(|(topic, _)| topic.as_str()).peekable();
    let mut batch = InOrder::new(batch);
    let mut taken = Vec::new();
    let mut ask = Vec::new();
    for (topic, config) in topics {
        let told = (walk_to(&mut with_offsets, topic) && committed_kind(topic).is_some())
            .then(|| batch.get(topic).and_then(|queues| exact_queues(queues, config.write_queue_nums)))
            .flatten();
        match told {
            Some(queues_and_newest) => taken.push((topic.clone(), queues_and_newest)),
            None => ask.push(topic.clone()),
        }
    }
    (taken, ask)
}

/// Queues `0..write_queues` with min 0 and their max, and the newest store time among them; None
/// if a queue is missing or its newest store time is not told.
fn exact_queues(queues: &BTreeMap<u32, BatchQueue>, write_queues: u32) -> Option<(TopicOffsets, i64)> {
    let mut out = TopicOffsets::new();
    let mut newest = 0;
    for q in 0..write_queues {
        let queue = queues.get(&q)?;
        newest = newest.max(queue.newest_ms?);
        out.insert(q, (0, queue.max.max(0)));
    }
    Some((out, newest))
}

/// The topics read with a placeholder min whose count a verdict may have overstated: those in a
/// row with messages, and all of them when the verdict counted every stored message (an offline
/// group without offsets). Empty when nothing it says depends on a min it does not have.
pub(super) fn overstated(backlog: &Backlog, read: &BrokerOffsets) -> BTreeSet<String> {
    if read.min_unknown.is_empty() {
        return BTreeSet::new();
    }
    if backlog.counted_every_stored_message {
        return read.min_unknown.clone();
    }
    backlog
        .rows
        .iter()
        .filter(|r| r.messages > 0 && read.min_unknown.contains(&r.topic))
        .map(|r| r.topic.clone())
        .collect()
}

/// Replaces the placeholder queues of `topics` with their own stats (asked now, after the
/// verdict's other reads: their max offsets can only have grown, which only adds to a count).
/// A topic deleted meanwhile is dropped: its messages are gone.
pub(super) async fn fill_mins(
    admin: &Arc<BrokerAdmin>,
    read: &mut BrokerOffsets,
    topics: BTreeSet<String>,
    concurrency: usize,
) -> Result<(), AdminError> {
    let asked = topic_stats(admin, topics.iter().cloned().collect(), concurrency).await?;
    let stats = Arc::make_mut(&mut read.stats);
    for topic in &topics {
        read.min_unknown.remove(topic);
        match asked.get(topic) {
            Some(s) => {
                stats.insert(topic.clone(), s.queues.clone());
                read.last_store_ms = read.last_store_ms.max(s.last_store_ms);
            }
            None => {
                stats.remove(topic);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(write_queues: u32) -> TopicConfig {
        TopicConfig { write_queue_nums: write_queues, read_queue_nums: write_queues, ..TopicConfig::default() }
    }

    #[test]
    fn only_topics_told_whole_are_taken() {
        let topics: BTreeMap<String, TopicConfig> = [
            ("Caught".to_string(), topic(2)),
            ("Behind".to_string(), topic(1)),
            ("Short".to_string(), topic(2)),
            ("NoOffsets".to_string(), topic(1)),
            ("rmq_sys_REVIVE_LOG_c".to_string(), topic(1)),
        ]
        .into();
        let offsets: ConsumerOffsets = ["Caught", "Behind", "Short", "rmq_sys_REVIVE_LOG_c"]
            .iter()
            .map(|t| ((t.to_string(), "G".to_string()), BTreeMap::new()))
            .collect();
        let told = |max, newest_ms| BatchQueue { max, newest_ms };
        let batch: BatchQueues = [
            ("Caught".to_string(), [(0, told(5, Some(7))), (1, told(0, Some(0)))].into()),
            ("Behind".to_string(), [(0, told(5, None))].into()),
            ("Short".to_string(), [(0, told(5, Some(7)))].into()),
            ("rmq_sys_REVIVE_LOG_c".to_string(), [(0, told(5, Some(7)))].into()),
        ]
        .into();
        let (taken, ask) = split(&batch, &topics, &offsets);
        assert_eq!(taken, [("Caught".to_string(), ([(0, (0, 5)), (1, (0, 0))].into(), 7))]);
        assert_eq!(ask, ["Behind", "NoOffsets", "Short", "rmq_sys_REVIVE_LOG_c"]);
    }

    #[test]
    fn the_batch_is_asked_only_where_its_scan_is_small_and_its_answer_fits() {
        let offsets: ConsumerOffsets =
            (0..1000).map(|i| ((format!("T{i}"), "G".to_string()), [(0, 0)].into())).collect();
        let frame = 16 * 1024 * 1024;
        assert!(worth_asking(QueueEnds::Auto, 12, &offsets, frame));
        assert!(!worth_asking(QueueEnds::Auto, 17, &offsets, frame), "1,000 topics save at most 16,000 pairs");
        assert!(worth_asking(QueueEnds::Batch, 17, &offsets, frame));
        assert!(!worth_asking(QueueEnds::Batch, 12, &offsets, 300_000), "answer over half a frame");
        assert!(!worth_asking(QueueEnds::PerTopic, 1, &offsets, frame));
        // Two groups on every topic: twice the scan and twice the rows, for the same topics saved.
        let both: ConsumerOffsets = offsets
            .iter()
            .flat_map(|((t, _), q)| ["G", "H"].map(|g| ((t.clone(), g.to_string()), q.clone())))
            .collect();
        assert!(worth_asking(QueueEnds::Auto, 8, &both, frame));
        assert!(!worth_asking(QueueEnds::Auto, 9, &both, frame));
        assert!(!worth_asking(QueueEnds::Batch, 12, &both, 700_000), "2,000 rows over half a frame");
    }

    #[test]
    fn a_refusal_an_acl_denial_or_an_oversized_answer_falls_back_and_a_silent_broker_does_not() {
        use crate::remoting::{AclModel, RemotingError};
        let (addr, request) = ("b:10911".to_string(), "GET_BROKER_CONSUME_STATS");
        let remark = String::new();
        let refused =
            RemotingError::Refused { addr: addr.clone(), request, code: 1, code_name: "x", remark: remark.clone() };
        let acl = AclModel::V1;
        let denied = RemotingError::AclDenied { addr: addr.clone(), request, code: 16, code_name: "x", remark, acl };
        let large = RemotingError::TooLarge { addr: addr.clone(), request, len: 1 << 25, max: 1 << 24 };
        let silent = RemotingError::Timeout { addr: addr.clone(), request, after: std::time::Duration::from_secs(3) };
        let lost = RemotingError::Closed { addr, request, hint: "" };
        for (e, falls_back) in [(refused, true), (denied, true), (large, true), (silent, false), (lost, false)] {
            let said = e.to_string();
            assert_eq!(is_not_for_us(&AdminError::Remoting(e)), falls_back, "{said}");
        }
    }
}
