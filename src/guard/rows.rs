//! The rows of a scale-in verdict and the arithmetic that fills them: what kind of backlog a row
//! counts, and a queue's lag from a position. Shared by the committed-offset evaluation
//! ([`super::backlog`]) and the broadcast clients' ([`super::broadcast`]), neither of which
//! imports the other.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::admin::{ConsumerOffsets, TopicOffsets, DLQ_PREFIX, RETRY_PREFIX, REVIVE_PREFIX};
use crate::sorted::InOrder;

pub(super) const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub(super) const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// A group behind on a topic, from its committed offsets.
    Consumer,
    /// An online CLUSTERING group subscribed to a topic with no committed offset here yet:
    /// counted from each queue's minimum until its client first saves offsets.
    NoOffsetYet,
    /// A BROADCASTING client behind, from the offsets the client itself reports.
    Broadcast,
    /// Messages waiting for redelivery in `%RETRY%<group>`.
    Retry,
    /// Delayed messages the schedule service has not delivered yet.
    Delayed,
    /// 5.x: messages with a delivery time still in the timer wheel (not in any queue yet). The
    /// row is per topic; `queuesBehind` is 1. Topic `rmq_sys_wheel_timer`: waiting messages the
    /// broker has not attributed to a topic yet.
    TimerWheel,
    /// Transaction half messages not yet committed or rolled back.
    HalfTransaction,
    /// Messages in `%DLQ%<group>` nobody consumes.
    DeadLetter,
    /// A topic with messages that no known group consumes.
    Unconsumed,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub group: Option<String>,
    /// The consumer client, for BROADCASTING rows (each client has its own progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub topic: String,
    pub kind: Kind,
    pub queues_behind: u32,
    pub messages: u64,
    /// Whether this row makes the shard unsafe under the policy.
    pub blocks: bool,
}

/// What a committed offset on `topic` counts as; None where the committed offset is a broker
/// service's own progress (the transaction check's, the schedule service's, POP's revive
/// service's), counted elsewhere.
pub(super) fn committed_kind(topic: &str) -> Option<Kind> {
    if topic == HALF_TOPIC || topic == SCHEDULE_TOPIC || topic.starts_with(REVIVE_PREFIX) {
        None
    } else if topic.starts_with(RETRY_PREFIX) {
        Some(Kind::Retry)
    } else if topic.starts_with(DLQ_PREFIX) {
        Some(Kind::DeadLetter)
    } else {
        Some(Kind::Consumer)
    }
}

/// Whether a committed-offset row of `kind` blocks: always, except a dead-letter topic's, which
/// blocks only under the strict policy.
pub(super) fn committed_row_blocks(kind: Kind, strict: bool) -> bool {
    kind != Kind::DeadLetter || strict
}

/// Groups whose committed offsets alone make a verdict "not safe" under any policy: behind on a
/// topic whose row blocks even when not strict ([`committed_row_blocks`]).
pub(super) fn blocked_by_committed<'o>(
    offsets: &'o ConsumerOffsets,
    stats: &BTreeMap<String, TopicOffsets>,
    exact: impl Fn(&str) -> bool,
) -> BTreeSet<&'o str> {
    let mut stats = InOrder::new(stats);
    offsets
        .iter()
        .filter(|((topic, _), _)| committed_kind(topic).is_some_and(|kind| committed_row_blocks(kind, false)))
        .filter(|((topic, _), committed)| {
            stats.get(topic).is_some_and(|queues| behind(queues, committed).iter().any(|lag| *lag > 0))
        })
        // Last: a search per row, and only rows behind can block.
        .filter(|((topic, _), _)| exact(topic))
        .map(|((_, group), _)| group.as_str())
        .collect()
}

/// Per-queue lag: max − the consumer's position, where a position below the queue's minimum
/// (retention already deleted those messages) or missing counts from the minimum: unknown
/// progress is not progress. A max below the position (a corrupt offset) is 0 here; the
/// subtraction cannot wrap.
pub fn behind(queues: &TopicOffsets, position: &BTreeMap<u32, i64>) -> Vec<u64> {
    queues
        .iter()
        .map(|(q, (min, max))| {
            let from = position.get(q).copied().unwrap_or(*min).max(*min);
            u64::try_from(max.saturating_sub(from)).unwrap_or(0)
        })
        .collect()
}

/// Adds a row of `kind` with its totals from `lags`, unless nothing is behind. The names are
/// copied only for a row kept: most of a large broker's topics and pairs are not behind.
pub fn push(rows: &mut Vec<Row>, group: Option<&str>, topic: &str, kind: Kind, blocks: bool, lags: Vec<u64>) {
    let Some((messages, queues_behind)) = totals(&lags) else { return };
    rows.push(Row {
        group: group.map(str::to_string),
        client: None,
        topic: topic.to_string(),
        kind,
        queues_behind,
        messages,
        blocks,
    });
}

/// Adds `row` with its totals from `lags`, unless nothing is behind.
pub fn push_row(rows: &mut Vec<Row>, mut row: Row, lags: Vec<u64>) {
    let Some((messages, queues_behind)) = totals(&lags) else { return };
    (row.messages, row.queues_behind) = (messages, queues_behind);
    rows.push(row);
}

/// Messages and queues behind; None when nothing is.
fn totals(lags: &[u64]) -> Option<(u64, u32)> {
    let messages = lags.iter().copied().fold(0u64, u64::saturating_add);
    let queues_behind = u32::try_from(lags.iter().filter(|l| **l > 0).count()).unwrap_or(u32::MAX);
    (messages > 0).then_some((messages, queues_behind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_consumer_or_retry_backlog_from_committed_offsets_blocks_before_asking() {
        let queues: TopicOffsets = [(0, (0, 10)), (1, (5, 8))].into();
        let stats: BTreeMap<String, TopicOffsets> = ["T", "%RETRY%R", "%DLQ%D", HALF_TOPIC, SCHEDULE_TOPIC]
            .iter()
            .map(|t| (t.to_string(), queues.clone()))
            .collect();
        let at = |q0: i64, q1: i64| -> BTreeMap<u32, i64> { [(0, q0), (1, q1)].into() };
        let offsets: ConsumerOffsets = [
            (("T", "Behind"), at(10, 7)),
            (("T", "CaughtUp"), at(10, 8)),
            // Below the queue's minimum counts from the minimum: 3 behind on queue 1.
            (("T", "BelowMin"), at(10, 2)),
            (("%RETRY%R", "R"), at(9, 8)),
            (("%DLQ%D", "D"), at(0, 5)),
            ((HALF_TOPIC, "CID_RMQ_SYS_TRANS"), at(0, 5)),
            ((SCHEDULE_TOPIC, "Sched"), at(0, 5)),
            (("Gone", "NoStats"), at(0, 0)),
        ]
        .into_iter()
        .map(|((t, g), c)| ((t.to_string(), g.to_string()), c))
        .collect();
        let blocked: Vec<&str> = blocked_by_committed(&offsets, &stats, |_| true).into_iter().collect();
        assert_eq!(blocked, ["Behind", "BelowMin", "R"]);
    }
}
