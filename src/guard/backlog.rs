//! Unconsumed messages on one broker, per group, topic and queue, from every group that may
//! consume here:
//! - committed offsets: the broker's max offset minus the group's committed offset;
//! - online CLUSTERING consumers' subscriptions with no committed offset yet (a new group saves
//!   its first offsets about 10 s after its client starts): counted from the queue's minimum;
//! - online BROADCASTING consumers: each client's own offsets, asked through the broker;
//! - retry topics, pending delayed messages, uncommitted transaction half messages, dead-letter
//!   topics and topics nobody consumes;
//! - 5.x: messages waiting in the timer wheel for their delivery time, per topic; and POP
//!   consumers' messages popped but not acked, which cannot be counted one by one (below).
//!
//! What cannot be known is "cannot tell", never "safe": a broadcast client that does not
//! answer, or an offline group with no offsets here (BROADCASTING groups keep theirs on the
//! clients) while the broker holds messages. Writes that have not stopped make it unsafe too
//! ([`super::writes`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::admin::{
    is_system_topic, own_topics, AdminError, BrokerAdmin, TopicOffsets, DLQ_PREFIX, RETRY_PREFIX, REVIVE_GROUP,
    REVIVE_PREFIX, TIMER_TOPIC,
};

use crate::sorted::{walk_to, InOrder};

use super::batch::{fill_mins, overstated, QueueEnds};
use super::broadcast::broadcast_rows;
use super::error::GuardError;
use super::read::{read, BrokerOffsets};
use super::rows::{behind, committed_kind, committed_row_blocks, push, HALF_TOPIC, SCHEDULE_TOPIC};
pub use super::rows::{Kind, Row};
use super::writes::{assess, now_ms, Writes, DEFAULT_QUIET_WINDOW};

const HALF_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// A POP record that landed in the revive log this long ago has been read by the revive service
/// (it reads due records within seconds), whatever offset it last committed.
const REVIVE_SETTLE: Duration = Duration::from_secs(60);
/// How many names a "cannot tell" reason lists before it says "and N more".
const NAMES_SHOWN: usize = 10;

/// What counts as unconsumed (each default is the fail-closed one).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Delayed messages not yet delivered block (default true).
    pub count_delayed: bool,
    /// Uncommitted transaction half messages block (default true).
    pub count_half: bool,
    /// Dead-letter topics and topics no group consumes also block (default false).
    pub strict: bool,
    /// Offline groups with no offsets here (possibly BROADCASTING, progress unknowable) do not
    /// make the verdict "cannot tell" (default false: they do).
    pub accept_offline_broadcast_loss: bool,
    /// No message stored for this long before the shard counts as empty; zero turns it off.
    pub quiet_window: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// How the queues' ends are read ([`QueueEnds`]).
    pub queue_ends: QueueEnds,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            count_delayed: true,
            count_half: true,
            strict: false,
            accept_offline_broadcast_loss: false,
            quiet_window: DEFAULT_QUIET_WINDOW,
            concurrency: crate::admin::IN_FLIGHT,
            queue_ends: QueueEnds::Auto,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Safe,
    /// Unconsumed messages, or writes that have not stopped (exit 1).
    Unsafe,
    /// Something that decides it could not be known (exit 2).
    CannotTell,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backlog {
    /// [`crate::JSON_SCHEMA_VERSION`].
    pub schema_version: u32,
    pub broker: String,
    /// The broker's release (`V4_9_6`, `V5_5_0`), from the version its answers carry.
    pub broker_version: Option<String>,
    pub verdict: Verdict,
    pub safe: bool,
    /// Messages that block the scale-in.
    pub blocking_messages: u64,
    pub rows: Vec<Row>,
    /// Why the verdict cannot be told (non-empty exactly when `verdict` is cannot_tell).
    pub cannot_tell: Vec<String>,
    pub writes: Writes,
    /// What was counted or set aside, in words (e.g. offline groups accepted by the policy).
    pub notes: Vec<String>,
    pub groups: usize,
    /// Groups with consumers online now, of those asked.
    pub online_groups: usize,
    /// Groups not asked for their online consumers because their committed offsets already
    /// block (so never while the verdict can be safe): their subscriptions without offsets and
    /// their BROADCASTING clients are not in the rows. One request per group saved.
    pub groups_not_asked: usize,
    pub topics: usize,
    /// Whether a count covers every stored message (an offline group without offsets): then
    /// every topic read with a placeholder min may have moved it ([`super::batch::overstated`]).
    #[serde(skip)]
    pub(super) counted_every_stored_message: bool,
}

pub async fn compute(admin: Arc<BrokerAdmin>, policy: &Policy) -> Result<Backlog, GuardError> {
    use tracing::Instrument;
    let span = tracing::info_span!("scale_in_scan", broker = %admin.addr());
    async move {
        let mut offsets = read(&admin, policy.concurrency, policy.queue_ends).await?;
        let backlog = evaluate(admin.clone(), &offsets, policy).await?;
        // Topics read with a placeholder min (0): where that may have added to a count, their
        // own stats are read and the verdict made again, so that what it says is exact.
        let overstated = overstated(&backlog, &offsets);
        if overstated.is_empty() {
            return Ok(backlog);
        }
        tracing::debug!(topics = overstated.len(), "reading the min offsets a verdict's counts depend on");
        let broker = admin.addr().to_string();
        fill_mins(&admin, &mut offsets, overstated, policy.concurrency)
            .await
            .map_err(|source| GuardError::Broker { broker, source })?;
        evaluate(admin, &offsets, policy).await
    }
    .instrument(span)
    .await
}

/// The rows of one evaluation, and what could not be told.
struct Findings<'a> {
    read: &'a BrokerOffsets,
    /// The broker's own cluster, broker-name and reply topics (system topics too).
    own: BTreeSet<String>,
    stats: Cow<'a, BTreeMap<String, TopicOffsets>>,
    policy: &'a Policy,
    rows: Vec<Row>,
    /// Topics some known group consumes (their messages are accounted for per group), sorted
    /// when [`Self::nobody_consumes`] reads it. Borrowed names in a list: a set of cloned names
    /// cost a copy and a search per row.
    consumed: Vec<&'a str>,
    cannot_tell: Vec<String>,
    notes: Vec<String>,
    counted_every_stored_message: bool,
}

/// The verdict from one [`read`]: asks the broker only for queues the topic stats left out and
/// for the BROADCASTING clients' own offsets.
pub async fn evaluate(admin: Arc<BrokerAdmin>, read: &BrokerOffsets, policy: &Policy) -> Result<Backlog, GuardError> {
    let broker = admin.addr().to_string();
    let err = |source: AdminError| GuardError::Broker { broker: broker.clone(), source };
    let stats = with_all_read_queues(&admin, read).await.map_err(err)?;
    let mut f = Findings {
        read,
        own: own_topics(&read.config),
        stats,
        policy,
        rows: Vec::new(),
        consumed: Vec::new(),
        cannot_tell: Vec::new(),
        notes: Vec::new(),
        counted_every_stored_message: false,
    };
    f.committed();
    f.subscribed_without_offsets();
    let (rows, unknown) = broadcast_rows(&admin, read, &f.stats, policy.concurrency).await.map_err(err)?;
    f.rows.extend(rows);
    f.cannot_tell.extend(unknown);
    f.nobody_consumes();
    f.offline_groups();
    f.not_asked();
    f.timer_wheel();
    f.pop_in_flight(now_ms());
    let writes = assess(read, policy.quiet_window, now_ms());
    let mut backlog = f.into_backlog(broker, writes);
    backlog.broker_version = admin.version().map(|v| v.name());
    Ok(backlog)
}

/// Topic stats cover write queues; a topic with more read queues gets those asked one by one.
/// Usually none has: the read's own table is used as it is (a copy costs 10,000 topics' maps).
async fn with_all_read_queues<'a>(
    admin: &BrokerAdmin,
    read: &'a BrokerOffsets,
) -> Result<Cow<'a, BTreeMap<String, TopicOffsets>>, AdminError> {
    let mut configs = InOrder::new(&read.topics);
    let missing: Vec<(&String, u32)> = read
        .stats
        .iter()
        .flat_map(|(topic, queues)| {
            let read_queues = configs.get(topic).map_or(0, |t| t.read_queue_nums);
            (0..read_queues).filter(|q| !queues.contains_key(q)).map(move |q| (topic, q))
        })
        .collect();
    if missing.is_empty() {
        return Ok(Cow::Borrowed(&*read.stats));
    }
    let mut stats = BTreeMap::clone(&read.stats);
    for (topic, q) in missing {
        let max = admin.max_offset(topic, q).await?;
        stats.entry(topic.clone()).or_default().insert(q, (0, max));
    }
    Ok(Cow::Owned(stats))
}

impl<'a> Findings<'a> {
    /// Rows from committed offsets. Never dropped because the group also has BROADCASTING
    /// consumers: a clustering backlog is a backlog whoever else shares the name.
    fn committed(&mut self) {
        let stats: &BTreeMap<String, TopicOffsets> = &self.stats;
        let mut stats = InOrder::new(stats);
        for ((topic, group), committed) in &self.read.offsets {
            let Some(queues) = stats.get(topic) else { continue }; // topic deleted: its messages are gone
            let Some(kind) = committed_kind(topic) else { continue };
            self.consumed.push(topic);
            let blocks = committed_row_blocks(kind, self.policy.strict);
            if let Some(reason) = impossible(topic, group, queues, committed) {
                self.cannot_tell.push(reason);
            }
            let lags = behind(queues, committed);
            push(&mut self.rows, Some(group), topic, kind, blocks, lags);
        }
    }

    /// An online CLUSTERING group's subscriptions that have no committed offset here: the
    /// client has not saved yet, so everything still stored counts (fail closed).
    fn subscribed_without_offsets(&mut self) {
        for (group, online) in &self.read.consumers {
            for topic in &online.topics {
                let Some(queues) = self.stats.get(topic) else { continue };
                self.consumed.push(topic);
                // A BROADCASTING group's progress is on its clients: see broadcast_rows.
                if online.is_broadcasting() || self.read.offsets.contains_key(&(topic.clone(), group.clone())) {
                    continue;
                }
                push(&mut self.rows, Some(group), topic, Kind::NoOffsetYet, true, behind(queues, &BTreeMap::new()));
            }
        }
    }

    /// Topics no known group consumes: retry, dead-letter, delayed, half and plain topics.
    fn nobody_consumes(&mut self) {
        let (policy, read) = (self.policy, self.read);
        // Committed offsets come in topic order, so the sort mostly finds runs already in place;
        // then both lists are walked in order.
        self.consumed.sort_unstable();
        let mut consumed = self.consumed.iter().copied().peekable();
        for (topic, queues) in self.stats.iter() {
            if walk_to(&mut consumed, topic) {
                continue;
            }
            let lags = behind(queues, &BTreeMap::new());
            if let Some(group) = topic.strip_prefix(RETRY_PREFIX) {
                push(&mut self.rows, Some(group), topic, Kind::Retry, true, lags);
            } else if let Some(group) = topic.strip_prefix(DLQ_PREFIX) {
                push(&mut self.rows, Some(group), topic, Kind::DeadLetter, policy.strict, lags);
            } else if topic == SCHEDULE_TOPIC {
                // Queue N holds delay level N+1; the schedule service's progress is per level.
                let delivered: BTreeMap<u32, i64> =
                    read.delay.iter().map(|(level, off)| (level.saturating_sub(1), *off)).collect();
                push(&mut self.rows, None, topic, Kind::Delayed, policy.count_delayed, behind(queues, &delivered));
            } else if topic == HALF_TOPIC {
                let key = (HALF_TOPIC.to_string(), HALF_GROUP.to_string());
                let checked = read.offsets.get(&key).cloned().unwrap_or_default();
                push(&mut self.rows, None, topic, Kind::HalfTransaction, policy.count_half, behind(queues, &checked));
            } else if !is_system_topic(topic, &self.own) {
                push(&mut self.rows, None, topic, Kind::Unconsumed, policy.strict, lags);
            }
        }
    }

    /// Offline groups with no committed offset here. A CLUSTERING group that was online for a
    /// few seconds has offsets (at least on its own retry topic, which every broker it sends
    /// heartbeats to creates), so such a group is most likely BROADCASTING: its progress lives
    /// on clients that are not there to ask, and its topics are unknown. While the broker holds
    /// messages a consumer could still want, that cannot be told.
    fn offline_groups(&mut self) {
        let with_offsets = self.read.groups_with_offsets();
        let offline: Vec<&String> = self
            .read
            .groups
            .keys()
            .filter(|g| !crate::admin::is_system_group(g))
            .filter(|g| !self.read.consumers.contains_key(*g) && !with_offsets.contains(g.as_str()))
            .collect();
        if offline.is_empty() {
            return;
        }
        self.counted_every_stored_message = true;
        let held = self.messages_a_consumer_may_want();
        if held == 0 {
            return;
        }
        let names = list(offline.iter().map(|g| g.as_str()));
        if self.policy.accept_offline_broadcast_loss {
            self.notes.push(format!(
                "accepted (--accept-offline-broadcast-loss): offline group(s) with no offsets here, whose \
                 BROADCASTING clients may still need some of the {held} stored message(s): {names}"
            ));
        } else {
            self.cannot_tell.push(format!(
                "offline group(s) with no committed offsets here: {names}. A BROADCASTING group keeps its \
                 progress on its clients, and none is online to ask, so whether it still needs any of the \
                 {held} stored message(s) cannot be told. Start its consumers, delete the group if it is \
                 gone (mqadmin deleteSubGroup), or pass --accept-offline-broadcast-loss"
            ));
        }
    }

    /// Says which rows the groups left unasked ([`BrokerOffsets`]'s `not_asked`) may be missing.
    fn not_asked(&mut self) {
        let n = self.read.not_asked;
        if n > 0 {
            self.notes.push(format!(
                "{n} group(s) already behind on committed offsets were not asked for their online consumers (one \
                 request each, spared the broker): rows for their subscriptions without offsets and their \
                 BROADCASTING clients are left out, and a topic only they subscribe to may show as unconsumed. \
                 Every group is asked once none is behind"
            ));
        }
    }

    /// 5.x: timed messages not due yet, per topic, and any the broker has not sorted into the
    /// wheel yet. POP checkpoint and ack records travel the same way: see [`Self::pop_in_flight`].
    fn timer_wheel(&mut self) {
        let Some(timer) = &self.read.timer else { return };
        let counts = || timer.per_topic.iter().filter(|(_, n)| **n > 0);
        let attributed = counts().map(|(_, n)| *n).fold(0i64, i64::saturating_add);
        for (topic, n) in counts().filter(|(t, _)| !t.starts_with(REVIVE_PREFIX)) {
            push(&mut self.rows, None, topic, Kind::TimerWheel, self.policy.count_delayed, vec![*n as u64]);
        }
        let unsorted = timer.total.saturating_sub(attributed);
        if unsorted > 0 {
            push(&mut self.rows, None, TIMER_TOPIC, Kind::TimerWheel, self.policy.count_delayed, vec![unsorted as u64]);
        }
    }

    /// 5.x POP consumers. A pop moves the group's committed offset at once; what was popped
    /// but not acked lives only in checkpoint records, which wait in the timer wheel (as topic
    /// `rmq_sys_REVIVE_LOG_<cluster>`) until the message's invisible time is up, then land in that
    /// revive log, due, where the broker's revive service reads them within seconds and sends
    /// unacked messages back to a retry topic (counted there). Acks travel the same way. The
    /// records are not counted per message here, so while any waits in the wheel, or landed in
    /// the revive log less than [`REVIVE_SETTLE`] ago and is unread, the verdict cannot be told.
    /// (The revive service commits its offset only as later records arrive, so an old unread
    /// record on an idle queue has been handled.) With `popConsumerKVServiceEnable` the
    /// checkpoints live in the broker's RocksDB instead, which remoting cannot read.
    fn pop_in_flight(&mut self, now_ms: i64) {
        let read = self.read;
        if read.config.get("popConsumerKVServiceEnable").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            self.cannot_tell.push(
                "popConsumerKVServiceEnable=true: POP checkpoints are kept in the broker's RocksDB store, which \
                 cannot be read over remoting, so messages popped and not acked cannot be told"
                    .into(),
            );
            return;
        }
        let in_wheel: i64 = read
            .timer
            .iter()
            .flat_map(|t| &t.per_topic)
            .filter(|(t, _)| t.starts_with(REVIVE_PREFIX))
            .map(|(_, n)| (*n).max(0))
            .fold(0, i64::saturating_add);
        let unread: u64 = self
            .stats
            .iter()
            .filter(|(topic, _)| topic.starts_with(REVIVE_PREFIX))
            .flat_map(|(topic, queues)| {
                behind(
                    queues,
                    &read.offsets.get(&(topic.clone(), REVIVE_GROUP.to_string())).cloned().unwrap_or_default(),
                )
            })
            .fold(0u64, u64::saturating_add);
        let recent = now_ms.saturating_sub(read.revive_last_store_ms) < REVIVE_SETTLE.as_millis() as i64;
        if in_wheel > 0 || (unread > 0 && recent) {
            self.cannot_tell.push(format!(
                "POP consumers have messages popped and not acked yet ({in_wheel} checkpoint/ack record(s) wait for \
                 their invisible time, {} just landed in the revive log): unacked ones return to a retry topic only \
                 when that time is up. Stop the POP consumers (or let them ack everything), wait for their \
                 invisible time, and check again",
                if recent { unread } else { 0 }
            ));
        }
    }

    /// Messages stored in the topics a consumer subscribes to directly (not system, retry or DLQ).
    fn messages_a_consumer_may_want(&self) -> u64 {
        self.stats
            .iter()
            .filter(|(t, _)| {
                !is_system_topic(t, &self.own) && !t.starts_with(RETRY_PREFIX) && !t.starts_with(DLQ_PREFIX)
            })
            .flat_map(|(_, queues)| behind(queues, &BTreeMap::new()))
            .fold(0u64, u64::saturating_add)
    }

    fn into_backlog(mut self, broker: String, writes: Writes) -> Backlog {
        let rows = &mut self.rows;
        rows.sort_by(|a, b| {
            (!a.blocks, a.kind, &a.group, &a.topic, &a.client).cmp(&(!b.blocks, b.kind, &b.group, &b.topic, &b.client))
        });
        let blocking_messages = rows.iter().filter(|r| r.blocks).map(|r| r.messages).fold(0u64, u64::saturating_add);
        // Anything unknown outranks what is known: the rows still show the known backlog.
        let verdict = if !self.cannot_tell.is_empty() {
            Verdict::CannotTell
        } else if blocking_messages > 0 || writes.still_writing.is_some() {
            Verdict::Unsafe
        } else {
            Verdict::Safe
        };
        Backlog {
            schema_version: crate::JSON_SCHEMA_VERSION,
            broker,
            broker_version: None,
            verdict,
            safe: verdict == Verdict::Safe,
            blocking_messages,
            rows: self.rows,
            cannot_tell: self.cannot_tell,
            writes,
            notes: self.notes,
            groups: self.read.groups.len(),
            online_groups: self.read.consumers.len(),
            groups_not_asked: self.read.not_asked,
            topics: self.read.topics.len(),
            counted_every_stored_message: self.counted_every_stored_message,
        }
    }
}

/// A committed offset that cannot be right (negative, or past the queue's end: read after the
/// offsets, the end can only have grown) means the broker's bookkeeping is not to be trusted.
fn impossible(topic: &str, group: &str, queues: &TopicOffsets, committed: &BTreeMap<u32, i64>) -> Option<String> {
    let bad: Vec<String> = committed
        .iter()
        .filter(|(q, off)| **off < 0 || queues.get(q).is_some_and(|(_, max)| **off > *max))
        .map(|(q, off)| format!("queue {q} at {off} (end {})", queues.get(q).map_or(0, |(_, max)| *max)))
        .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "group {group} has impossible committed offsets on {topic}: {}; its backlog cannot be told \
             (reset the group's offsets, e.g. mqadmin resetOffsetByTime)",
            list(bad.iter().map(String::as_str))
        )
    })
}

/// Up to [`NAMES_SHOWN`] names, then how many more.
pub(super) fn list<'n>(names: impl ExactSizeIterator<Item = &'n str>) -> String {
    let total = names.len();
    let shown: Vec<&str> = names.take(NAMES_SHOWN).collect();
    match total - shown.len() {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_below_the_minimum_count_from_it_and_nothing_wraps() {
        let queues: TopicOffsets = [(0, (10, 50)), (1, (0, 5)), (2, (0, 5)), (3, (0, 5))].into();
        let position = [(0, 3), (1, -7), (2, 9), (3, i64::MIN)].into();
        // Queue 0 from its minimum (retention deleted 0..10), queue 1's negative offset from 0,
        // queue 2 past its end is 0 here (and "impossible" below), queue 3 cannot overflow.
        assert_eq!(behind(&queues, &position), [40, 5, 0, 5]);
        let why = impossible("T", "G", &queues, &position).unwrap();
        assert!(why.contains("queue 1 at -7") && why.contains("queue 2 at 9 (end 5)"), "{why}");
        assert!(impossible("T", "G", &queues, &[(0, 50)].into()).is_none());
    }

    /// A master with topic T (the given queues), group G (its committed offsets, if any), and
    /// its newest message stored at `last_store_ms`.
    fn master_with(queues: TopicOffsets, committed: Option<BTreeMap<u32, i64>>, last_store_ms: i64) -> BrokerOffsets {
        let config =
            [("brokerId", "0"), ("brokerRole", "ASYNC_MASTER"), ("brokerName", "b"), ("brokerPermission", "6")];
        BrokerOffsets {
            topics: [("T".to_string(), crate::admin::TopicConfig::default())].into(),
            groups: [("G".to_string(), crate::admin::GroupConfig::default())].into(),
            offsets: committed.map(|c| (("T".to_string(), "G".to_string()), c)).into_iter().collect(),
            delay: BTreeMap::new(),
            config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            config_version: None,
            stats: Arc::new([("T".to_string(), queues)].into()),
            last_store_ms,
            consumers: BTreeMap::new(),
            not_asked: 0,
            timer: None,
            revive_last_store_ms: 0,
            min_unknown: Default::default(),
        }
    }

    async fn verdict(read: &BrokerOffsets) -> Verdict {
        let admin = Arc::new(BrokerAdmin::new("127.0.0.1:1", crate::remoting::ClientOptions::default()));
        evaluate(admin, read, &Policy::default()).await.expect("nothing to ask the broker").verdict
    }

    /// Extreme numbers from a broker (corrupt, hostile or just huge) never make a shard "safe"
    /// while a message may be unconsumed, and never panic or wrap.
    #[tokio::test]
    async fn extreme_offsets_are_never_safe_while_a_message_may_be_unconsumed() {
        const V: [i64; 8] = [i64::MIN, -1, 0, 1, 1 << 40, i64::MAX - 1, i64::MAX, 7];
        for min in V {
            for max in V.into_iter().filter(|m| *m >= min) {
                for committed in V.map(Some).into_iter().chain([None]) {
                    let c = committed.map(|c| [(0, c)].into());
                    let got = verdict(&master_with([(0, (min, max))].into(), c, 0)).await;
                    let impossible = committed.is_some_and(|c| c < 0 || c > max);
                    let from = committed.unwrap_or(min).max(min);
                    let lag = max.saturating_sub(from) > 0;
                    if lag || impossible {
                        assert_ne!(got, Verdict::Safe, "min {min} max {max} committed {committed:?}");
                    }
                }
            }
        }
        // Lags that sum past i64/u64 saturate: unsafe, not wrapped to a small or zero count.
        let queues: TopicOffsets = (0..4).map(|q| (q, (0, i64::MAX))).collect();
        let read = master_with(queues, Some((0..4).map(|q| (q, 0)).collect()), 0);
        let admin = Arc::new(BrokerAdmin::new("127.0.0.1:1", crate::remoting::ClientOptions::default()));
        let b = evaluate(admin, &read, &Policy::default()).await.unwrap();
        assert_eq!((b.verdict, b.blocking_messages), (Verdict::Unsafe, u64::MAX));
        // A newest-message time from any clock, even the far future, neither panics nor reads as quiet.
        let consumed = || master_with([(0, (0, 5))].into(), Some([(0, 5)].into()), 0);
        for t in [i64::MIN, -1, i64::MAX] {
            let read = BrokerOffsets { last_store_ms: t, ..consumed() };
            let got = verdict(&read).await;
            assert!(t != i64::MAX || got != Verdict::Safe, "a write stamped in the future is not quiet");
        }
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..25).map(|i| format!("g{i}")).collect();
        let text = list(names.iter().map(String::as_str));
        assert!(text.ends_with("g9 and 15 more"), "{text}");
    }
}
