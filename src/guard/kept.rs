//! Topic stats a metrics refresh may keep from the one before: a queue's max offset moves only
//! when a message is put, and every put extends the commit log. When the broker's commit log
//! has not moved since before the previous read of every topic's stats (two equal
//! [`CommitLogMark`]s, the second asked after that read ended), and the topic table is the same,
//! that read still says what a new one would, and its 10,000 requests (at 10,000 topics) are not
//! sent again. When the log has only grown, by little, the entries appended since are read
//! instead and the kept stats caught up from them ([`super::catch_up`]). A guard verdict never
//! uses this: it always reads its own.
//!
//! No topic's stats are kept [`KEEP_AT_MOST`] after they were read: a queue's min offset moves
//! without a put (retention deletes old files; a consume queue is cleaned some seconds after its
//! commit log file). A min offset kept too long is lower than the broker's, which only makes a lag
//! counted from it larger. Topics are read again in turns ([`Turns`]), oldest first, a share of
//! them each refresh, so that at 10,000 topics no refresh redoes the read of every topic at once.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::admin::{CommitLogMark, RuntimeInfo, TopicConfig, TopicOffsets, TopicStats, REVIVE_PREFIX};

/// The oldest a topic's kept stats get before it is asked again, however still the broker.
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
    /// When each topic was last read (the age bound), and which are next.
    turns: Turns,
    /// When these stats were last shown to hold (read, caught up or kept): a later use needs a
    /// sample asked after it, so a message put after an older sample is never missed.
    confirmed_at: Instant,
    /// How long the read of every topic took: what keeping these stats saves.
    read_took: Duration,
}

/// The most a commit log may have grown for kept stats to be caught up from what was appended
/// (read whole, one entry per request); more, and every topic is asked again.
pub const CATCH_UP_MAX_BYTES: i64 = 1024 * 1024;

/// Where a read's topic stats came from, and what the next refresh may keep.
pub struct StatsOutcome {
    pub read: StatsRead,
    pub keep: Option<KeptStats>,
}

/// Where a refresh's topic stats came from, and how many topics it read again in their turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsRead {
    pub source: StatsSource,
    /// Topics whose kept stats were read again ([`KeptStats::due_now`]); 0 after a full read.
    pub read_again: usize,
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

impl ReadStats {
    /// One GET_TOPIC_STATS_INFO per topic, as read.
    pub(super) fn from_topic_stats(stats: BTreeMap<String, TopicStats>) -> ReadStats {
        let mut read = ReadStats::default();
        for (topic, s) in &stats {
            read.saw_store(topic, s.last_store_ms);
        }
        read.stats = Arc::new(stats.into_iter().map(|(topic, s)| (topic, s.queues)).collect());
        read
    }

    /// A message of `topic` stored at `store_ms` (a topic's newest, or one entry caught up): the
    /// newest store times, and the revive topics' own, move on to it.
    pub(super) fn saw_store(&mut self, topic: &str, store_ms: i64) {
        self.last_store_ms = self.last_store_ms.max(store_ms);
        if topic.starts_with(REVIVE_PREFIX) {
            self.revive_last_store_ms = self.revive_last_store_ms.max(store_ms);
        }
    }
}

impl KeptStats {
    /// Keeps a read of every topic's stats that began at `read_began` and ended now, if the
    /// sample answered before it began says the commit log was wholly dispatched. `table` is the
    /// topic table's digest ([`topic_table_digest`]) and its size.
    pub(super) fn after_read(
        read: &ReadStats,
        (topics, count): (u64, usize),
        before: Option<RuntimeSample<'_>>,
        read_began: Instant,
    ) -> Option<KeptStats> {
        let mark = CommitLogMark::of(before?.info)?;
        let read_ended = Instant::now();
        let read_took = read_ended - read_began;
        let turns = Turns::after_read(count, read_began);
        Some(KeptStats { read: read.clone(), topics, mark, turns, confirmed_at: read_ended, read_took })
    }

    /// How long the read of every topic these stats came from took: a runtime sample that takes
    /// less is worth asking for afresh to keep them.
    pub fn read_took(&self) -> Duration {
        self.read_took
    }

    /// How the commit log changed since before these stats were read, if they can still be
    /// used: `now` was asked after they were last confirmed, not every topic is due to be read
    /// again ([`Turns::due`]), and `now` shows the same commit log or the same one grown by at
    /// most [`CATCH_UP_MAX_BYTES`]. Asked before the tables are read, so that a busy broker's
    /// refresh never holds two stats tables at once.
    pub(super) fn since(&self, now: RuntimeSample<'_>) -> Option<Since> {
        if now.asked_at < self.confirmed_at || self.turns.due(now.asked_at) >= self.turns.topics {
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

    /// The topics of `table` (the one these stats were read for) to read again now, and when
    /// that began: the longest unread, as many as [`Turns::due`] says. Their answers go in with
    /// [`Self::reread`].
    pub(super) fn due_now<'t>(&self, table: impl Iterator<Item = &'t String> + Clone) -> (Vec<String>, Instant) {
        let began = Instant::now();
        let (next, due) = (self.turns.next, self.turns.due(began));
        // Topic order from `next` on, wrapping: the oldest runs first.
        let oldest_first = table.clone().skip(next).chain(table.take(next));
        (oldest_first.take(due).cloned().collect(), began)
    }

    /// The stats of the topics [`Self::due_now`] named, read from `began` on (after the sample
    /// that confirmed these, so they hold at least everything its mark does), put in place of
    /// the kept ones. A topic that answered "no such topic" is left out, as a read of every topic
    /// would leave it.
    pub(super) fn reread(mut self, names: &[String], mut fresh: BTreeMap<String, TopicStats>, began: Instant) -> Self {
        if names.is_empty() {
            return self;
        }
        for name in names {
            // The refresh holds the only reference; a copy is made only if a reader still has the table.
            let stats = Arc::make_mut(&mut self.read.stats);
            let Some(TopicStats { queues, last_store_ms }) = fresh.remove(name) else {
                stats.remove(name);
                continue;
            };
            stats.insert(name.clone(), queues);
            self.read.saw_store(name, last_store_ms);
        }
        self.turns.took(names.len(), began);
        self
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

/// When each topic's stats were last read, as runs of topics in topic order: the oldest run
/// starts at `next`, and the newest run ends just before it. A turn reads the oldest again.
#[derive(Clone, Debug)]
struct Turns {
    /// How many topics there are (the runs' lengths add up to it).
    topics: usize,
    /// Where (in topic order, wrapping) the oldest run starts.
    next: usize,
    /// (how many topics, when their read began), oldest first.
    runs: VecDeque<(usize, Instant)>,
    /// When the last turn (or the read of every topic) began: a turn reads a share of the topics
    /// proportional to the time since.
    last: Instant,
}

impl Turns {
    fn after_read(topics: usize, began: Instant) -> Turns {
        Turns { topics, next: 0, runs: [(topics, began)].into(), last: began }
    }

    /// How many topics a turn beginning `at` reads: every topic read [`KEEP_AT_MOST`] ago or
    /// earlier, and at least the share of all topics that the time since the last turn is of
    /// [`KEEP_AT_MOST`] (rounded down, so a small table is read whole only when it is due). At
    /// steady refreshes every topic is so read once every [`KEEP_AT_MOST`], a quarter of them
    /// each refresh at the default 15 s, and the kept stats are never older.
    fn due(&self, at: Instant) -> usize {
        let overdue: usize = self
            .runs
            .iter()
            .take_while(|(_, began)| at.saturating_duration_since(*began) >= KEEP_AT_MOST)
            .map(|(n, _)| n)
            .sum();
        let since = at.saturating_duration_since(self.last).min(KEEP_AT_MOST);
        let share = (self.topics as u128 * since.as_millis() / KEEP_AT_MOST.as_millis()) as usize;
        overdue.max(share).min(self.topics)
    }

    /// `n` of the oldest topics read again from `began` on.
    fn took(&mut self, n: usize, began: Instant) {
        let mut left = n;
        while left > 0 {
            let Some(front) = self.runs.front_mut() else { break };
            let taken = front.0.min(left);
            front.0 -= taken;
            left -= taken;
            if front.0 == 0 {
                self.runs.pop_front();
            }
        }
        self.runs.push_back((n, began));
        self.next = (self.next + n) % self.topics.max(1);
        self.last = began;
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
        KeptStats::after_read(&read(), (1, 1), Some(RuntimeSample { info: before, asked_at: began }), began)
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
        let early = RuntimeSample { info: &still, asked_at: k.turns.last };
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
        assert!(KeptStats::after_read(&read(), (1, 1), None, Instant::now()).is_none());
    }

    /// A table of `n` topics T000.. with every queue at (min, max) = (0, `max`).
    fn table(n: usize, max: i64) -> (Vec<String>, BTreeMap<String, TopicStats>) {
        let names: Vec<String> = (0..n).map(|i| format!("T{i:03}")).collect();
        let stats =
            names.iter().map(|t| (t.clone(), TopicStats { queues: [(0, (0, max))].into(), last_store_ms: max }));
        (names.clone(), stats.collect())
    }

    /// Kept stats of `n` topics, read whole just now.
    fn kept_table(n: usize) -> KeptStats {
        let (_, stats) = table(n, 1);
        let read = ReadStats {
            stats: Arc::new(stats.into_iter().map(|(t, s)| (t, s.queues)).collect()),
            last_store_ms: 1,
            revive_last_store_ms: 0,
        };
        let before = info(4096, 0);
        let now = Instant::now();
        KeptStats::after_read(&read, (1, n), Some(RuntimeSample { info: &before, asked_at: now }), now).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn at_steady_refreshes_a_quarter_of_the_topics_is_read_each_and_none_is_kept_a_minute() {
        let (names, _) = table(100, 0);
        let mut k = kept_table(100);
        let still = info(4096, 0);
        let mut read_at: BTreeMap<String, Instant> = names.iter().map(|t| (t.clone(), Instant::now())).collect();
        for refresh in 1..=12 {
            tokio::time::advance(Duration::from_secs(15)).await;
            assert_eq!(k.since(asked_now(&still)), Some(Since::Unchanged), "refresh {refresh}: kept, not read whole");
            let (due, began) = k.due_now(names.iter());
            assert_eq!(due.len(), 25, "refresh {refresh}: a quarter, {due:?}");
            let (_, fresh) = table(100, refresh);
            for t in &due {
                read_at.insert(t.clone(), began);
            }
            k = k.reconfirmed().reread(&due, fresh.into_iter().filter(|(t, _)| due.contains(t)).collect(), began);
            let oldest = read_at.values().min().unwrap();
            assert!(Instant::now() - *oldest < KEEP_AT_MOST, "refresh {refresh}: a topic kept a minute");
            assert_eq!(k.read.stats[&due[0]][&0], (0, refresh), "the turn's answers are in");
            assert_eq!(k.read.last_store_ms, refresh);
        }
        // Each topic was read again in its turn, in order: after 12 refreshes of 25, the last
        // turn was T075..T099, read at the 12th.
        assert_eq!(k.read.stats["T075"][&0], (0, 12));
        assert_eq!(k.read.stats["T074"][&0], (0, 11));
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_reads_its_share_or_every_overdue_topic_and_a_refresh_that_finds_all_due_reads_whole() {
        let (names, _) = table(100, 0);
        let still = info(4096, 0);
        let k = kept_table(100);
        tokio::time::advance(Duration::from_secs(15)).await;
        let (due, began) = k.due_now(names.iter());
        let k = k.reconfirmed().reread(&due, BTreeMap::new(), began);
        assert_eq!(k.read.stats.len(), 75, "topics gone at their turn are left out, as a whole read leaves them");
        // 50 s later: that time's share of the table (83), the oldest first.
        tokio::time::advance(Duration::from_secs(50)).await;
        let (due, began) = k.due_now(names.iter());
        assert_eq!((due.len(), due[0].as_str()), (83, "T025"));
        let k = k.reconfirmed().reread(&due, BTreeMap::new(), began);
        // That took T025..T099 and T000..T007; T008..T024 were read at 15 s. 1 s later the
        // share is 1 topic; 10 s later it is 16, but those 17 are a minute old: all of them go.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(k.due_now(names.iter()).0, ["T008"]);
        tokio::time::advance(Duration::from_secs(9)).await;
        let (due, _) = k.due_now(names.iter());
        assert_eq!((due.len(), due[0].as_str(), due[16].as_str()), (17, "T008", "T024"));
        // Two minutes after the last turn, every topic is due: the refresh reads them all whole.
        tokio::time::advance(Duration::from_secs(70)).await;
        assert_eq!(k.since(asked_now(&still)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_table_is_kept_whole_until_its_minute_is_up() {
        let (names, _) = table(3, 0);
        let still = info(4096, 0);
        let k = kept_table(3);
        tokio::time::advance(Duration::from_secs(15)).await;
        // A quarter of 3 rounds down to none: nothing is asked.
        assert!(k.due_now(names.iter()).0.is_empty());
        let k = k.reconfirmed();
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(k.due_now(names.iter()).0, ["T000"], "35 s of 60: one of three");
        tokio::time::advance(KEEP_AT_MOST).await;
        assert_eq!(k.since(asked_now(&still)), None, "a minute after the read, read whole");
    }

    #[test]
    fn the_digest_follows_the_topic_table() {
        let table = |q| -> BTreeMap<String, TopicConfig> {
            [("T".to_string(), TopicConfig { read_queue_nums: q, write_queue_nums: q, perm: 6, topic_sys_flag: 0 })]
                .into()
        };
        assert_eq!(topic_table_digest(&table(4)), topic_table_digest(&table(4)));
        assert_ne!(topic_table_digest(&table(4)), topic_table_digest(&table(8)));
        assert_ne!(topic_table_digest(&table(4)), topic_table_digest(&BTreeMap::new()));
    }
}
