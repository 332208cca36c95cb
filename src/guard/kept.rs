//! Topic stats a metrics refresh may keep from the one before: a queue's max offset moves only
//! when a message is put, and every put extends the commit log. When the broker's commit log
//! has not moved since before the previous read of every topic's stats (two equal
//! [`CommitLogMark`]s, the second asked after that read ended), and the topic table is the same,
//! that read still says what a new one would, and its 10,000 requests (at 10,000 topics) are not
//! sent again. When the log has only grown, by little, the entries appended since are read
//! instead and the kept stats caught up from them ([`super::catch_up`]). A guard verdict never
//! uses this: it always reads its own.
//!
//! Kept at most [`KEEP_AT_MOST`] after the read of every topic: a queue's min offset moves without
//! a put (retention deletes old files; a consume queue is cleaned some seconds after its commit
//! log file). A min offset kept too long is lower than the broker's, which only makes a lag
//! counted from it larger.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::admin::{CommitLogMark, RuntimeInfo, TopicConfig, TopicOffsets};

/// The oldest kept topic stats get before every topic is asked again, however still the broker.
pub const KEEP_AT_MOST: Duration = Duration::from_secs(60);

/// A runtime sample and when it was asked for (before the request was sent).
#[derive(Clone, Copy)]
pub struct RuntimeSample<'a> {
    pub info: &'a RuntimeInfo,
    pub asked_at: Instant,
}

/// What one read of every topic's stats found, and what it takes for it to still hold.
#[derive(Clone)]
pub struct KeptStats {
    pub(super) read: ReadStats,
    /// The topic table the stats were read for ([`topic_table_digest`]).
    topics: u64,
    /// The commit log in a sample answered before the read began.
    mark: CommitLogMark,
    /// When the read of every topic began (the age bound), and when these stats were last shown
    /// to hold (read, caught up or kept): a later use needs a sample asked after it, so a message
    /// put after an older sample is never missed.
    read_began: Instant,
    confirmed_at: Instant,
    /// How long the read of every topic took: what keeping these stats saves.
    read_took: Duration,
}

/// The most a commit log may have grown for kept stats to be caught up from what was appended
/// (read whole, one entry per request); more, and every topic is asked again.
pub const CATCH_UP_MAX_BYTES: i64 = 1024 * 1024;

/// Where a read's topic stats came from, and what the next refresh may keep.
pub struct StatsOutcome {
    pub source: StatsSource,
    pub keep: Option<KeptStats>,
}

/// Where a refresh's topic stats came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsSource {
    /// One GET_TOPIC_STATS_INFO per topic.
    Read,
    /// The previous refresh's: nothing was put since before they were read.
    Kept,
    /// The previous refresh's, with the queues of the messages put since moved on.
    CaughtUp,
}

/// How the broker's commit log changed since kept stats were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Since {
    /// Not at all: the stats still say what a read now would.
    Unchanged,
    /// Entries appended from `from` to the end of `now` (at most [`CATCH_UP_MAX_BYTES`]).
    Appended { from: i64, now: CommitLogMark },
}

/// A read's stats with what they derive (the table is shared, never copied).
#[derive(Clone, Default)]
pub(super) struct ReadStats {
    pub stats: Arc<BTreeMap<String, TopicOffsets>>,
    pub last_store_ms: i64,
    pub revive_last_store_ms: i64,
}

impl KeptStats {
    /// Keeps a read of every topic's stats that began at `read_began` and ended now, if the
    /// sample answered before it began says the commit log was wholly dispatched.
    pub(super) fn after_read(
        read: &ReadStats,
        topics: u64,
        before: Option<RuntimeSample<'_>>,
        read_began: Instant,
    ) -> Option<KeptStats> {
        let mark = CommitLogMark::of(before?.info)?;
        let read_ended = Instant::now();
        let read_took = read_ended - read_began;
        Some(KeptStats { read: read.clone(), topics, mark, read_began, confirmed_at: read_ended, read_took })
    }

    /// How long the read of every topic these stats came from took: a runtime sample that takes
    /// less is worth asking for afresh to keep them.
    pub fn read_took(&self) -> Duration {
        self.read_took
    }

    /// How the commit log changed since before these stats were read, if they can still be
    /// used: `now` was asked after they were last confirmed, they are not too old, and `now` shows the same
    /// commit log or the same one grown by at most [`CATCH_UP_MAX_BYTES`]. Asked before the
    /// tables are read, so that a busy broker's refresh never holds two stats tables at once.
    pub(super) fn since(&self, now: RuntimeSample<'_>) -> Option<Since> {
        if now.asked_at < self.confirmed_at || now.asked_at.duration_since(self.read_began) >= KEEP_AT_MOST {
            return None;
        }
        let mark = CommitLogMark::of(now.info)?;
        if mark == self.mark {
            return Some(Since::Unchanged);
        }
        let grown = mark.end() - self.mark.end();
        (mark.only_appended_to(&self.mark) && grown <= CATCH_UP_MAX_BYTES)
            .then(|| Since::Appended { from: self.mark.end(), now: mark })
    }

    /// These stats caught up to `now` ([`super::catch_up`]): the next refresh may keep them, or
    /// catch up from there, until [`KEEP_AT_MOST`] after the read of every topic.
    pub(super) fn caught_up(self, read: ReadStats, now: CommitLogMark) -> KeptStats {
        KeptStats { read, mark: now, confirmed_at: Instant::now(), ..self }
    }

    /// These stats kept by a refresh ([`Since::Unchanged`]): the next use needs a sample asked
    /// after this one's.
    pub(super) fn reconfirmed(self) -> KeptStats {
        KeptStats { confirmed_at: Instant::now(), ..self }
    }

    /// Whether they were read for this topic table ([`topic_table_digest`]).
    pub(super) fn same_table(&self, topics: u64) -> bool {
        self.topics == topics
    }

    /// Whether these stats still say what a read now would.
    #[cfg(test)]
    fn still_hold(&self, now: RuntimeSample<'_>, topics: u64) -> bool {
        self.since(now) == Some(Since::Unchanged) && self.same_table(topics)
    }
}

/// A digest of the topic table (names, queue counts, permissions): a topic created, deleted or
/// resized between two reads changes it.
pub(super) fn topic_table_digest(topics: &BTreeMap<String, TopicConfig>) -> u64 {
    let mut h = DefaultHasher::new();
    topics.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(max: i64, behind: i64) -> RuntimeInfo {
        [
            ("dispatchBehindBytes", behind.to_string()),
            ("commitLogMinOffset", "0".to_string()),
            ("commitLogMaxOffset", max.to_string()),
            ("bootTimestamp", "1764900000000".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn read() -> ReadStats {
        ReadStats {
            stats: Arc::new([("T".to_string(), [(0, (0, 5))].into())].into()),
            last_store_ms: 7,
            revive_last_store_ms: 0,
        }
    }

    fn asked_now(info: &RuntimeInfo) -> RuntimeSample<'_> {
        RuntimeSample { info, asked_at: Instant::now() }
    }

    /// Kept from a read that began a second ago, with `before` asked just before it.
    fn kept(before: &RuntimeInfo) -> Option<KeptStats> {
        let began = Instant::now() - Duration::from_secs(1);
        KeptStats::after_read(&read(), 1, Some(RuntimeSample { info: before, asked_at: began }), began)
    }

    #[tokio::test(start_paused = true)]
    async fn kept_while_the_commit_log_is_still_and_the_table_the_same() {
        let before = info(4096, 0);
        let k = kept(&before).expect("dispatched before the read");
        tokio::time::advance(Duration::from_secs(5)).await;
        let (still, put) = (info(4096, 0), info(4200, 0));
        assert!(k.still_hold(asked_now(&still), 1));
        assert!(!k.still_hold(asked_now(&put), 1), "a message was put");
        assert!(!k.still_hold(asked_now(&still), 2), "the topic table changed");
        let early = RuntimeSample { info: &still, asked_at: k.read_began };
        assert!(!k.still_hold(early, 1), "asked before the read ended");
        // Kept by one refresh, the next needs a sample of its own: the older one may miss a put.
        let used_at = Instant::now();
        tokio::time::advance(Duration::from_secs(1)).await;
        let k = k.reconfirmed();
        assert!(
            !k.still_hold(RuntimeSample { info: &still, asked_at: used_at }, 1),
            "a sample older than the last use"
        );
        assert!(k.still_hold(asked_now(&still), 1));
        tokio::time::advance(KEEP_AT_MOST).await;
        assert!(!k.still_hold(asked_now(&still), 1), "too old");
    }

    #[tokio::test(start_paused = true)]
    async fn a_commit_log_grown_by_little_is_caught_up_from_where_the_read_began() {
        let k = kept(&info(4096, 0)).expect("dispatched before the read");
        tokio::time::advance(Duration::from_secs(5)).await;
        let grown = info(4096 + CATCH_UP_MAX_BYTES, 0);
        let Some(Since::Appended { from, now }) = k.since(asked_now(&grown)) else { panic!("appended") };
        assert_eq!((from, now.end()), (4096, 4096 + CATCH_UP_MAX_BYTES));
        assert_eq!(k.since(asked_now(&info(4097 + CATCH_UP_MAX_BYTES, 0))), None, "grown too much");
        assert_eq!(k.since(asked_now(&info(5000, 64))), None, "still dispatching");
        let mut deleted = info(5000, 0);
        deleted.insert("commitLogMinOffset".into(), "1024".into());
        assert_eq!(k.since(asked_now(&deleted)), None, "retention deleted a file");
        // Caught up, the next refresh goes on from there; the age still counts from the read.
        let next = k.clone().caught_up(read(), now);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(next.since(asked_now(&grown)), Some(Since::Unchanged));
        assert!(matches!(next.since(asked_now(&info(9000 + CATCH_UP_MAX_BYTES, 0))), Some(Since::Appended { .. })));
        tokio::time::advance(KEEP_AT_MOST).await;
        assert_eq!(next.since(asked_now(&grown)), None, "too old");
    }

    #[test]
    fn not_kept_when_the_sample_before_the_read_was_still_dispatching_or_missing() {
        assert!(kept(&info(4096, 100)).is_none());
        assert!(KeptStats::after_read(&read(), 1, None, Instant::now()).is_none());
    }

    #[test]
    fn the_digest_follows_the_topic_table() {
        let table = |q| -> BTreeMap<String, TopicConfig> {
            [(
                "T".to_string(),
                TopicConfig {
                    topic_name: "T".into(),
                    read_queue_nums: q,
                    write_queue_nums: q,
                    perm: 6,
                    topic_sys_flag: 0,
                },
            )]
            .into()
        };
        assert_eq!(topic_table_digest(&table(4)), topic_table_digest(&table(4)));
        assert_ne!(topic_table_digest(&table(4)), topic_table_digest(&table(8)));
        assert_ne!(topic_table_digest(&table(4)), topic_table_digest(&BTreeMap::new()));
    }
}
