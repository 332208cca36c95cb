//! Kept topic stats brought up to date from the commit log: every message put since they were
//! read is one entry appended to it, and the entry says which queue the message went to and at
//! which offset. Reading those entries (one VIEW_MESSAGE_BY_ID each, from where the log ended
//! before the read to where it ends now) moves exactly the queues that moved, with as many
//! requests as messages put instead of one per topic.
//!
//! Used only while few messages were put (at most one entry per [`TOPICS_PER_ENTRY`] topics, and
//! [`super::kept::CATCH_UP_MAX_BYTES`]): the entries are read one after another, each request
//! waiting for the one before, so a busier broker gets the read of every topic instead.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::admin::BrokerAdmin;
use crate::remoting::StoredEntry;

use super::kept::ReadStats;

/// How many topics one entry read must save for a catch-up to be worth its sequential round
/// trips (a read of every topic is 64 requests in flight at once).
pub const TOPICS_PER_ENTRY: usize = 8;

/// Where a queue's newest message put since the stats were read landed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Moved {
    /// The queue's max offset after it: its queue offset + 1.
    max: i64,
    store_ms: i64,
}

/// `read` with the entries in `[from, to)` applied, and how many were read; None when the walk
/// would take more than `topics / TOPICS_PER_ENTRY` entries, or an entry cannot be asked for,
/// read or placed (then every topic is asked instead).
pub(super) async fn catch_up(
    admin: &BrokerAdmin,
    read: ReadStats,
    (from, to): (i64, i64),
    topics: usize,
) -> Option<(ReadStats, usize)> {
    let (moved, entries) = walk(admin, from, to, topics / TOPICS_PER_ENTRY).await?;
    Some((apply(read, &moved), entries))
}

/// Reads the entries from `from` until `to`, at most `at_most` of them: the newest place of every
/// queue a message went to, and how many entries were read.
async fn walk(
    admin: &BrokerAdmin,
    from: i64,
    to: i64,
    at_most: usize,
) -> Option<(BTreeMap<(String, u32), Moved>, usize)> {
    let mut moved: BTreeMap<(String, u32), Moved> = BTreeMap::new();
    let (mut at, mut entries) = (from, 0);
    while at < to {
        if entries == at_most {
            return None;
        }
        let entry = match admin.stored_entry(at).await {
            Ok(entry) => entry,
            // An entry this reader cannot place, or a request the broker refuses (an ACL that
            // does not let this account view messages): the read of every topic will do. A
            // broker that stopped answering fails that read too, with its own error.
            Err(e) => {
                tracing::debug!(error = %e, at, "catch-up gave up; reading every topic");
                return None;
            }
        };
        entries += 1;
        if let StoredEntry::Queued { topic, queue_id, queue_offset, store_ms, .. } = &entry {
            let m = moved.entry((topic.clone(), *queue_id)).or_default();
            m.max = m.max.max(queue_offset + 1);
            m.store_ms = m.store_ms.max(*store_ms);
        }
        at += entry.size();
    }
    // Landing past the end means the entries were not where the sizes said.
    (at == to).then_some((moved, entries))
}

/// The stats with each moved queue's max offset raised. Queues of topics the stats do not hold
/// (not in the topic table, e.g. light message queues) or beyond a topic's write queues are left
/// out, as a read of every topic would leave them.
fn apply(mut read: ReadStats, moved: &BTreeMap<(String, u32), Moved>) -> ReadStats {
    if moved.is_empty() {
        return read;
    }
    for ((topic, queue_id), m) in moved {
        // The refresh holds the only reference; a copy is made only if a reader still has the table.
        let stats = Arc::make_mut(&mut read.stats);
        let Some((_, max)) = stats.get_mut(topic).and_then(|queues| queues.get_mut(queue_id)) else { continue };
        *max = (*max).max(m.max);
        read.saw_store(topic, m.store_ms);
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_queues_take_the_newest_offset_and_unknown_queues_are_left_out() {
        let read = ReadStats {
            stats: Arc::new([("T".to_string(), [(0, (2, 5)), (1, (0, 0))].into())].into()),
            last_store_ms: 10,
            revive_last_store_ms: 0,
        };
        let moved: BTreeMap<_, _> = [
            (("T".to_string(), 1), Moved { max: 3, store_ms: 20 }),
            (("T".to_string(), 9), Moved { max: 1, store_ms: 30 }),
            (("%LMQ%x".to_string(), 0), Moved { max: 7, store_ms: 40 }),
        ]
        .into();
        let shared = read.stats.clone();
        let after = apply(read, &moved);
        assert_eq!(after.stats["T"], [(0, (2, 5)), (1, (0, 3))].into());
        assert_eq!(after.last_store_ms, 20, "only from queues the stats hold");
        assert_eq!(shared["T"][&1], (0, 0), "a reader's table is not changed under it");
    }
}
