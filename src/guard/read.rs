//! Everything the guard reads from a master in one pass (the metrics reuse it): topics,
//! subscription groups, committed and delay offsets, the config and its version, every topic's
//! queue offsets, every group's online consumers with their subscriptions, and on 5.x what waits
//! in the timer wheel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::admin::{
    bounded, is_master, is_system_group, topic_stats, AdminError, BatchQueues, BrokerAdmin, BrokerConfig,
    ConsumerOffsets, DataVersion, GroupConfig, OnlineConsumers, RuntimeInfo, TopicConfig, TopicOffsets,
};

use tokio::time::Instant;

use super::batch::{self, QueueEnds};
use super::catch_up::catch_up;
use super::error::GuardError;
use super::kept::{
    topic_table_digest, KeptStats, ReadStats, RuntimeSample, Since, StatsOutcome, StatsRead, StatsSource,
};
use super::online::{OnlineSeen, OFFLINE_ASKS_PER_REFRESH};
use super::rows::blocked_by_committed;

pub struct BrokerOffsets {
    pub topics: BTreeMap<String, TopicConfig>,
    /// The subscription-group table: every group that ever sent this broker a heartbeat (with
    /// `autoCreateSubscriptionGroup`) or was created by an admin.
    pub groups: BTreeMap<String, GroupConfig>,
    pub offsets: ConsumerOffsets,
    pub(super) delay: BTreeMap<u32, i64>,
    pub(super) config: BrokerConfig,
    /// The config's DataVersion: its timestamp is the broker's time of the last config update.
    pub(super) config_version: Option<DataVersion>,
    /// Min and max offset per (write) queue of every topic, as GET_TOPIC_STATS_INFO reports them
    /// (shared with what the metrics refresh keeps for the next one).
    pub stats: Arc<BTreeMap<String, TopicOffsets>>,
    /// When the broker stored its newest message, any topic (ms, broker clock; 0 = none).
    pub(super) last_store_ms: i64,
    /// Online consumers of every non-system group in the table or with offsets that was asked;
    /// absent = offline or not asked.
    pub consumers: BTreeMap<String, OnlineConsumers>,
    /// Groups not asked for their online consumers: a verdict's read leaves out those whose
    /// committed offsets already block ([`Asking::Unblocked`]); a metrics refresh asks every one.
    pub(super) not_asked: usize,
    /// 5.x: the timer wheel; None on a broker without one (4.x).
    pub timer: Option<TimerWheel>,
    /// 5.x: when the newest POP checkpoint or ack record landed in the revive log (ms, broker
    /// clock; 0 = never).
    pub(super) revive_last_store_ms: i64,
    /// Topics whose queues' min offsets in `stats` are a placeholder, 0 ([`super::batch`]).
    pub(super) min_unknown: BTreeSet<String>,
}

/// 5.x messages with a delivery time (and POP checkpoint / ack records, which travel the same
/// way) that have not come due: stored only in the wheel, in no topic's queues yet.
#[derive(Debug, Clone, Default)]
pub struct TimerWheel {
    /// Real topic → messages waiting (the broker's TimerMetrics: counted when a message enters
    /// the wheel, uncounted when it is delivered).
    pub per_topic: BTreeMap<String, i64>,
    /// Every message waiting: in the wheel (`timerCongestNum`) plus those stored but not yet
    /// sorted into it (`timerOffsetBehind`), whatever their topic.
    pub total: i64,
}

/// The broker's write permission ([`crate::admin::write_permission`]); 4.9.6's default, 6, when
/// it does not say.
pub(super) fn permits_writes(config: &BrokerConfig) -> bool {
    crate::admin::write_permission(config).unwrap_or(true)
}

impl BrokerOffsets {
    pub fn broker_name(&self) -> &str {
        self.config.get("brokerName").map_or("", String::as_str)
    }

    /// Whether producers may route here ([`permits_writes`]).
    pub fn writable(&self) -> bool {
        permits_writes(&self.config)
    }

    /// Groups that have committed an offset here, on any topic.
    pub(super) fn groups_with_offsets(&self) -> BTreeSet<&str> {
        self.offsets.keys().map(|(_, group)| group.as_str()).collect()
    }
}

/// What one metrics refresh's read hands the next: the topic stats it may keep
/// ([`KeptStats`]) and when each group's online consumers were last asked ([`OnlineSeen`]).
/// Empty, the read asks everything, as a guard verdict always does.
#[derive(Default)]
pub struct Carry {
    stats: Option<KeptStats>,
    online: OnlineSeen,
}

impl Carry {
    /// How long the read of every topic that the kept stats save took, if any are kept.
    pub fn stats_read_took(&self) -> Option<std::time::Duration> {
        self.stats.as_ref().map(KeptStats::read_took)
    }
}

/// Reads what [`super::evaluate`] needs for a verdict; fails with [`GuardError::NotMaster`] after
/// the config, before any table or per-topic request, when the broker is a slave. Every topic's
/// stats are read, and the online consumers of every group whose committed offsets do not already
/// block ([`Asking::Unblocked`]).
pub async fn read(admin: &Arc<BrokerAdmin>, concurrency: usize, ends: QueueEnds) -> Result<BrokerOffsets, GuardError> {
    Ok(read_as(admin, concurrency, None, None, Asking::Unblocked(ends)).await?.0)
}

/// [`read`] for the metrics refresh:
/// - the broker's runtime info (5.x timer-wheel totals) is taken from `runtime` when given: the
///   refresh passes the sample it already holds, because a 5.5.0 broker spends ~60–100 ms of CPU
///   on each fresh one;
/// - the previous refresh's topic stats (`carry`) are used again when nothing was put since
///   before they were read, or caught up from the few entries appended since
///   ([`KeptStats::since`]), if the topic table is the same; otherwise every topic is asked;
/// - every group's online consumers are asked, those offline at their last answer in turns
///   ([`super::online`]).
///
/// Also returns where the topic stats came from and what the next refresh may carry.
pub async fn read_with_runtime(
    admin: &Arc<BrokerAdmin>,
    concurrency: usize,
    runtime: Option<RuntimeSample<'_>>,
    carry: Carry,
) -> Result<(BrokerOffsets, StatsRead, Carry), GuardError> {
    let Carry { stats, online } = carry;
    read_as(admin, concurrency, runtime, stats, Asking::Everyone(online)).await
}

/// Whose online consumers a read asks for (GET_CONSUMER_CONNECTION_LIST, one request per group:
/// at 10,000 groups most of what a read costs the broker).
enum Asking {
    /// A metrics refresh: every group (the offline ones in turns, [`OnlineSeen`]); the group
    /// table's as soon as that table is in, while the committed offsets (at 10,000 groups the
    /// slowest table for the broker to write: ~50 ms) are still on their way.
    Everyone(OnlineSeen),
    /// A verdict: once the committed offsets and the topic stats are in, every group except those
    /// whose committed offsets already block ([`blocked_by_committed`]). Such a group makes the
    /// verdict "not safe" whatever its consumers say, so its answer would add rows (its
    /// subscriptions without offsets, its BROADCASTING clients), never change the verdict. A
    /// verdict that can be "safe" has asked every group. Its queue ends are read as
    /// [`QueueEnds`] says.
    Unblocked(QueueEnds),
}

/// What moves messages on is read before any queue's end: the committed offsets (a consumer sends
/// what it failed back to a retry topic, then commits past it), the delay offsets (the schedule
/// service delivers a delayed message, then moves on) and on 5.x the timer wheel (delivers a due
/// message into its topic; a due POP checkpoint lands in the revive log, whose reading commits the
/// revive offset after the unacked message is put on a retry topic). Read in that order, a message
/// that moves while the read runs is counted twice (where it was and where it went), never missed;
/// read the other way round, it can be in neither, and the verdict "safe" with it unconsumed. The
/// topic table comes after them too: a retry topic is created by the first message sent to it.
///
/// Each table's per-row requests start as soon as that table is in: the topic stats after the
/// topic table, and with [`Asking::Everyone`] the online consumers of the group table's groups
/// after the group table, while the rest is read. Groups known only from their offsets are asked
/// once those are in.
async fn read_as(
    admin: &Arc<BrokerAdmin>,
    concurrency: usize,
    runtime: Option<RuntimeSample<'_>>,
    kept: Option<KeptStats>,
    asking: Asking,
) -> Result<(BrokerOffsets, StatsRead, Carry), GuardError> {
    let broker = admin.addr().to_string();
    let err = |source: AdminError| GuardError::Broker { broker: broker.clone(), source };
    let kept = kept.and_then(|k| Some((k.since(runtime?)?, k)));
    let (config, config_version) = admin.config_versioned().await.map_err(err)?;
    if !is_master(&config) {
        return Err(GuardError::not_master(broker, &config));
    }
    let asked_at = Instant::now();
    // How many groups the table holds, for a verdict's choice of how to read the queue ends.
    let (table_size, groups_counted) = tokio::sync::oneshot::channel::<usize>();
    let progress_then_topics = async {
        let (offsets, delay, timer) = tokio::join!(
            admin.consumer_offsets(),
            admin.delay_offsets(),
            timer_wheel(admin, &config, runtime.map(|r| r.info))
        );
        let progress = (offsets?, delay?, timer?);
        let (topics, stats) = match &asking {
            Asking::Unblocked(ends) => {
                // The batch request, if any, goes beside the topic table's read (both after the
                // committed offsets): it needs only the offsets and the group count to be chosen.
                let batch = async {
                    let groups = groups_counted.await.unwrap_or(usize::MAX);
                    batch::ask_if_worth_it(admin, *ends, groups, &progress.0).await
                };
                let (topics, batch) = tokio::join!(admin.topic_configs(), batch);
                let topics = topics?;
                let stats = verdict_ends(admin, &topics, &progress.0, batch?, concurrency).await?;
                (topics, stats)
            }
            Asking::Everyone(_) => {
                let topics = admin.topic_configs().await?;
                let digest = topic_table_digest(&topics);
                let kept = kept.filter(|(_, k)| k.same_table(digest));
                let (read, outcome) =
                    stats_of_every_topic(admin, &topics, concurrency, runtime, (digest, kept)).await?;
                (topics, (read, outcome, BTreeSet::new()))
            }
        };
        Ok::<_, AdminError>((progress, topics, stats))
    };
    let groups_then_online = async {
        let groups = admin.groups().await?;
        // Dropped unsent when the table cannot be read; the read fails with that error anyway.
        let _ = table_size.send(groups.len());
        let in_table = table_groups(&groups);
        let early = match &asking {
            Asking::Everyone(seen) => {
                let (ask, offline_asked) = seen.to_ask(&in_table, OFFLINE_ASKS_PER_REFRESH);
                let answers = online(admin, ask.clone(), concurrency).await?;
                Early { ask, offline_asked, answers }
            }
            Asking::Unblocked(_) => Early::default(),
        };
        Ok::<_, AdminError>((groups, in_table, early))
    };
    let (progress_and_stats, groups_and_online) = tokio::join!(progress_then_topics, groups_then_online);
    let (((offsets, delay, timer), topics, (stats, next, min_unknown)), (groups, in_table, early)) =
        (progress_and_stats.map_err(err)?, groups_and_online.map_err(err)?);
    let only_offsets = groups_only_with_offsets(&groups, &offsets);
    // Every group that may consume here (system groups left out).
    let candidates: Vec<String> = in_table.into_iter().chain(only_offsets.iter().cloned()).collect();
    let (consumers, seen, not_asked) = match asking {
        Asking::Everyone(seen) => {
            let Early { mut ask, offline_asked, mut answers } = early;
            let (ask_more, _) = seen.to_ask(&only_offsets, OFFLINE_ASKS_PER_REFRESH - offline_asked);
            answers.extend(online(admin, ask_more.clone(), concurrency).await.map_err(err)?);
            ask.extend(ask_more);
            let (consumers, seen) = seen.merge(&candidates, &ask, answers, asked_at);
            (consumers, seen, 0)
        }
        Asking::Unblocked(_) => {
            // A placeholder min can only add to a lag: those topics say nothing about who blocks.
            let exact = |topic: &str| !min_unknown.contains(topic);
            let blocked = blocked_by_committed(&offsets, &stats.stats, exact);
            let ask: Vec<String> = candidates.iter().filter(|g| !blocked.contains(g.as_str())).cloned().collect();
            let not_asked = candidates.len() - ask.len();
            (online(admin, ask, concurrency).await.map_err(err)?, OnlineSeen::default(), not_asked)
        }
    };
    let read = BrokerOffsets {
        topics,
        groups,
        offsets,
        delay,
        config,
        config_version,
        stats: stats.stats,
        last_store_ms: stats.last_store_ms,
        consumers,
        not_asked,
        timer,
        revive_last_store_ms: stats.revive_last_store_ms,
        min_unknown,
    };
    Ok((read, next.read, Carry { stats: next.keep, online: seen }))
}

/// The online consumers a metrics refresh asked for as soon as the group table was in.
#[derive(Default)]
struct Early {
    ask: Vec<String>,
    offline_asked: usize,
    answers: BTreeMap<String, OnlineConsumers>,
}

/// Every topic's queue offsets, and what the next refresh may keep of them: the kept ones when
/// nothing was put since, caught up when little was, with the topics whose turn it is read again
/// ([`KeptStats::due_now`]); else one GET_TOPIC_STATS_INFO per topic.
async fn stats_of_every_topic(
    admin: &Arc<BrokerAdmin>,
    topics: &BTreeMap<String, TopicConfig>,
    concurrency: usize,
    runtime: Option<RuntimeSample<'_>>,
    (digest, kept): (u64, Option<(Since, KeptStats)>),
) -> Result<(ReadStats, StatsOutcome), AdminError> {
    let carried = match kept {
        Some((Since::Unchanged, k)) => Some((k.reconfirmed(), StatsSource::Kept)),
        Some((Since::Appended { from, now }, mut k)) => {
            // Moved out, not shared: the catch-up then changes the table in place.
            let kept_read = std::mem::take(&mut k.read);
            catch_up(admin, kept_read, (from, now.end()), topics.len()).await.map(|(read, entries)| {
                tracing::debug!(entries, "topic stats caught up from the commit log");
                (k.caught_up(read, now), StatsSource::CaughtUp)
            })
        }
        None => None,
    };
    if let Some((k, source)) = carried {
        let (k, read_again) = read_due_turn(admin, k, topics, concurrency).await?;
        let read = StatsRead { source, read_again };
        return Ok((k.read.clone(), StatsOutcome { read, keep: Some(k) }));
    }
    let began = Instant::now();
    let stats = topic_stats(admin, topics.keys().cloned().collect(), concurrency).await?;
    let read = ReadStats::from_topic_stats(stats);
    let keep = KeptStats::after_read(&read, (digest, topics.len()), runtime, began);
    Ok((read, StatsOutcome { read: StatsRead { source: StatsSource::Read, read_again: 0 }, keep }))
}

/// A verdict's queue ends, from the batch answer where it tells them ([`batch::read_ends`]; an
/// empty answer when it was not asked). Nothing is kept for a later read.
async fn verdict_ends(
    admin: &Arc<BrokerAdmin>,
    topics: &BTreeMap<String, TopicConfig>,
    offsets: &ConsumerOffsets,
    batch: BatchQueues,
    concurrency: usize,
) -> Result<(ReadStats, StatsOutcome, BTreeSet<String>), AdminError> {
    let fresh = StatsOutcome { read: StatsRead { source: StatsSource::Read, read_again: 0 }, keep: None };
    let (read, min_unknown) = batch::read_ends(admin, topics, offsets, batch, concurrency).await?;
    Ok((read, fresh, min_unknown))
}

/// Kept stats with the topics whose turn it is read again, and how many: their min offsets move
/// without puts, and a share each refresh spares any one refresh the read of every topic.
async fn read_due_turn(
    admin: &Arc<BrokerAdmin>,
    kept: KeptStats,
    topics: &BTreeMap<String, TopicConfig>,
    concurrency: usize,
) -> Result<(KeptStats, usize), AdminError> {
    let (due, began) = kept.due_now(topics.keys());
    if due.is_empty() {
        return Ok((kept, 0));
    }
    let fresh = topic_stats(admin, due.clone(), concurrency).await?;
    Ok((kept.reread(&due, fresh, began), due.len()))
}

/// The timer wheel of a 5.x broker (its config has `timerWheelEnable`): the runtime info's totals
/// and the per-topic counts. A broker started with the wheel off has no timer store and answers
/// GET_TIMER_METRICS with an error; then nothing can wait in it.
async fn timer_wheel(
    admin: &BrokerAdmin,
    config: &BrokerConfig,
    runtime: Option<&RuntimeInfo>,
) -> Result<Option<TimerWheel>, AdminError> {
    let Some(enabled) = config.get("timerWheelEnable") else { return Ok(None) };
    let fetched;
    let runtime = match runtime {
        Some(r) => r,
        None => {
            fetched = admin.runtime_info().await?;
            &fetched
        }
    };
    let number = |key: &'static str| {
        runtime.get(key).and_then(|v| v.trim().parse::<i64>().ok()).ok_or(AdminError::Decode {
            what: "runtime info",
            addr: admin.addr().to_string(),
            reason: format!("no number {key} on a broker with timerWheelEnable").into(),
        })
    };
    let total = number("timerCongestNum")?.max(0).saturating_add(number("timerOffsetBehind")?.max(0));
    let per_topic = match admin.timer_counts().await {
        Ok(counts) => counts,
        Err(AdminError::Remoting(crate::remoting::RemotingError::Refused { .. }))
            if enabled == "false" && total == 0 =>
        {
            BTreeMap::new()
        }
        Err(e) => return Err(e),
    };
    Ok(Some(TimerWheel { per_topic, total }))
}

/// The group table's groups, system groups left out.
fn table_groups(groups: &BTreeMap<String, GroupConfig>) -> Vec<String> {
    groups.keys().filter(|g| !is_system_group(g)).cloned().collect()
}

/// Groups with committed offsets that are not in the group table (a group deleted from the table
/// keeps its offsets), system groups left out.
fn groups_only_with_offsets(groups: &BTreeMap<String, GroupConfig>, offsets: &ConsumerOffsets) -> Vec<String> {
    let with_offsets: BTreeSet<&String> = offsets.keys().map(|(_, group)| group).collect();
    with_offsets.into_iter().filter(|g| !groups.contains_key(*g) && !is_system_group(g)).cloned().collect()
}

/// GET_CONSUMER_CONNECTION_LIST for each group, concurrently with a bound; offline groups are
/// left out of the map.
async fn online(
    admin: &Arc<BrokerAdmin>,
    groups: Vec<String>,
    concurrency: usize,
) -> Result<BTreeMap<String, OnlineConsumers>, AdminError> {
    let online = bounded(admin, groups, concurrency, |admin, group: &String| {
        let group = group.clone();
        async move { admin.online_consumers(&group).await }
    })
    .await?;
    Ok(online.into_iter().collect())
}
