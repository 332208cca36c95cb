//! One pass over the broker for rocketmq-exporter-compatible metrics (same names and labels, so
//! its Grafana dashboards work unchanged). A master exports its topics, groups, offsets, lag and
//! throughput; a slave only its runtime gauges (the exporter reads masters only, and a slave's
//! copies would double every sum on a dashboard).

use std::sync::Arc;

use crate::admin::{
    bounded, is_master, AdminError, BrokerAdmin, OnlineConsumers, StatsMinute, TopicOffsets, DLQ_PREFIX, RETRY_PREFIX,
};
use crate::guard::{self, Backlog, BrokerOffsets, GuardError, Policy};
use crate::sorted::InOrder;

use super::quiet::{PairValues, Plan, Quiet, TopicValues};
use super::runtime;

#[derive(Debug, Clone)]
pub struct Limits {
    /// At most this many topics and this many group/topic pairs get their own series; the
    /// rest are counted as dropped (the largest offsets / lags are kept).
    pub max_series: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_series: 5000, concurrency: crate::admin::IN_FLIGHT }
    }
}

/// The rendered text of one pass and what it cost.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The page's broker part, shared by every scrape as it is (4 MB at 40,000 series: a copy per
    /// scrape raised `serve`'s peak by that much whenever a scrape met a refresh).
    pub text: axum::body::Bytes,
    pub series: usize,
    /// Topics and group/topic pairs left out by [`Limits::max_series`].
    pub dropped: usize,
}

/// Gauge families filled during one pass, written straight as Prometheus text (format 0.0.4).
/// A pass at 10,000 topics fills ~40,000 series once and never changes them, so a Registry of
/// GaugeVecs (a hashed child, label strings and a protobuf-like copy per series at gather time)
/// would only cost memory and time: the text itself is all a scrape needs.
#[derive(Default)]
struct Families {
    /// In the order first named; rendered in name order.
    list: Vec<Family>,
    /// Family name -> its place in `list`.
    index: std::collections::BTreeMap<String, usize>,
    series: usize,
}

#[derive(Default)]
struct Family {
    name: String,
    help: String,
    /// Its sample lines, in the order they were set.
    lines: String,
}

/// A family named once per pass: the loops over 10,000 topics and pairs then write each sample
/// without looking its family up by name (that lookup and `write!` were half a refresh's render).
#[derive(Clone, Copy)]
struct FamilyId(usize);

impl Families {
    fn new() -> Families {
        Families::default()
    }

    fn family(&mut self, name: &str, help: &str) -> FamilyId {
        if let Some(&i) = self.index.get(name) {
            return FamilyId(i);
        }
        let i = self.list.len();
        self.list.push(Family { name: name.to_string(), help: help.to_string(), lines: String::new() });
        self.index.insert(name.to_string(), i);
        FamilyId(i)
    }

    /// One sample whose label block (from [`label_block`]) may be shared by several families.
    fn sample(&mut self, id: FamilyId, block: &str, v: f64) {
        let family = &mut self.list[id.0];
        let lines = &mut family.lines;
        lines.push_str(&family.name);
        lines.push_str(block);
        lines.push(' ');
        write_sample_value(lines, v);
        lines.push('\n');
        self.series += 1;
    }

    fn set(&mut self, name: &str, help: &str, labels: &[&str], values: &[&str], v: f64) {
        let id = self.family(name, help);
        self.sample(id, &label_block(labels, values), v);
    }

    fn render(self, dropped: usize) -> Snapshot {
        let Families { mut list, index, series } = self;
        let size: usize = list.iter().map(|f| 2 * f.name.len() + f.help.len() + f.lines.len() + 32).sum();
        let mut text = String::with_capacity(size);
        // Each family's lines are freed as soon as they are copied: the page and the families
        // are never both whole (4 MB each at 40,000 series).
        for i in index.into_values() {
            let Family { name, help, lines } = std::mem::take(&mut list[i]);
            if lines.is_empty() {
                continue; // named, never set: no header without samples
            }
            text.push_str(&format!("# HELP {name} {}\n# TYPE {name} gauge\n", escape_help(&help)));
            text.push_str(&lines);
        }
        Snapshot { text: text.into(), series, dropped }
    }
}

/// `{a="1",b="2"}` (empty without labels), values escaped.
fn label_block(labels: &[&str], values: &[&str]) -> String {
    let mut block = String::with_capacity(labels.iter().chain(values).map(|s| s.len() + 4).sum::<usize>() + 2);
    for (i, (label, value)) in labels.iter().zip(values).enumerate() {
        block.push(if i == 0 { '{' } else { ',' });
        block.push_str(label);
        block.push_str("=\"");
        block.push_str(&escape_label(value));
        block.push('"');
    }
    if !labels.is_empty() {
        block.push('}');
    }
    block
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn escape_label(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        return v.into();
    }
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
}

/// A HELP text: backslash and newline escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus writes it (integers without a fraction, `+Inf`, `NaN`).
fn write_sample_value(out: &mut String, v: f64) {
    use std::fmt::Write;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// One refresh: the rendered metrics and, on a master, the scale-in backlog computed from the
/// same read (None on a slave).
pub struct Collected {
    pub snapshot: Snapshot,
    pub backlog: Option<Result<Backlog, GuardError>>,
    /// The quiet tracker for the next refresh (None on a slave: nothing to track).
    pub quiet: Option<Quiet>,
    /// What the next refresh's read may carry over (None on a slave).
    pub carry: Option<guard::Carry>,
    /// Where this refresh's topic stats came from (None on a slave).
    pub stats_read: Option<guard::StatsRead>,
}

/// Asks the broker for everything the metrics need; fails as a whole (no half-filled snapshot).
/// The runtime info comes from `sampler`, which asks for it only as often as its cost allows;
/// the topic stats and online consumers carried from the previous refresh (`carry`, [`guard::Carry`]).
pub async fn collect(
    admin: Arc<BrokerAdmin>,
    limits: &Limits,
    sampler: &runtime::RuntimeSampler,
    (quiet, carry): (&Quiet, guard::Carry),
) -> Result<Collected, GuardError> {
    let err = |source: AdminError| GuardError::Broker { broker: admin.addr().to_string(), source };
    // Kept topic stats are used only with a sample asked after their last use ([`guard::KeptStats`]):
    // one is asked afresh when it costs less than the read of every topic that keeping them saves.
    let (info, config) = tokio::join!(sampler.get(&admin, carry.stats_read_took()), admin.config());
    let ((info, asked_at), config) = (info.map_err(err)?, config.map_err(err)?);
    let cfg = |k: &str| config.get(k).cloned().unwrap_or_default();
    let cluster = cfg("brokerClusterName");
    let broker = cfg("brokerName");
    let addr = format!("{}:{}", cfg("brokerIP1"), cfg("listenPort"));
    let mut f = Families::new();

    let values = runtime::label_values(&info, &cluster, &addr);
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    for (name, v) in runtime::gauges(&info) {
        f.set(
            &name,
            "Broker runtime info (GET_BROKER_RUNTIME_INFO), as rocketmq-exporter",
            &runtime::LABELS,
            &values,
            v,
        );
    }
    if !is_master(&config) {
        return Ok(Collected { snapshot: f.render(0), backlog: None, quiet: None, carry: None, stats_read: None });
    }
    // One read of topics, offsets and queue stats serves both the metrics and the backlog (its
    // timer-wheel totals from the same runtime sample).
    let sample = guard::RuntimeSample { info: &info, asked_at };
    let (read, stats_read, carry) = guard::read_with_runtime(&admin, limits.concurrency, Some(sample), carry).await?;
    let policy = Policy { concurrency: limits.concurrency, ..Policy::default() };
    let (done, backlog) = tokio::join!(
        master_metrics(&admin, limits, &mut f, [&cluster, &broker, &addr], &read, quiet),
        guard::evaluate(admin.clone(), &read, &policy)
    );
    let (dropped, quiet) = done.map_err(err)?;
    let (carry, stats_read) = (Some(carry), Some(stats_read));
    Ok(Collected { snapshot: f.render(dropped), backlog: Some(backlog), quiet: Some(quiet), carry, stats_read })
}

/// One group's progress on one topic, summed over the topic's queues as the broker's own
/// consume stats (and mqadmin consumerProgress) do: lag = Σ(max − committed), a queue without
/// a committed offset counting from 0.
struct Pair<'a> {
    topic: &'a str,
    group: &'a str,
    committed: i64,
    lag: i64,
    /// The topic never held a message (`quiet`'s test for a topic): a pair on it pulled nothing.
    empty_topic: bool,
}

async fn master_metrics(
    admin: &Arc<BrokerAdmin>,
    limits: &Limits,
    f: &mut Families,
    labels: [&str; 3],
    read: &BrokerOffsets,
    quiet: &Quiet,
) -> Result<(usize, Quiet), AdminError> {
    let (topics, dropped_topics) = largest_topics(read, limits.max_series);
    let (pairs, dropped_pairs) = largest_lags(read, limits.max_series);
    // Only the statistics that can be other than 0 are asked for, a busy key once a minute and
    // at most a budget per refresh (see `quiet`).
    let now = tokio::time::Instant::now();
    let online_with_backlog =
        |p: &Pair| p.lag > 0 && read.consumers.get(p.group).is_some_and(|c| !c.clients.is_empty());
    let marks = pairs.iter().map(|p| {
        let key = (p.topic.to_string(), p.group.to_string());
        (key, (p.committed, p.lag, online_with_backlog(p)), p.empty_topic)
    });
    let mut seen = quiet.observe(&topics, marks, now);
    tracing::debug!(
        topics = seen.topics.iter().filter(|p| matches!(p, Plan::Ask)).count(),
        of_topics = topics.len(),
        pairs = seen.pairs.iter().filter(|p| matches!(p, Plan::Ask)).count(),
        of_pairs = pairs.len(),
        "minute statistics asked for"
    );
    let asked = Asked {
        cluster: labels[0],
        topics: &topics,
        topic_plans: &seen.topics,
        pairs: &pairs,
        pair_plans: &seen.pairs,
    };
    let minute = minute_stats(admin, asked, limits.concurrency).await?;
    for (((topic, _), plan), values) in topics.iter().zip(&seen.topics).zip(&minute.topics) {
        if *plan == Plan::Ask {
            seen.next.answered_topic(topic, *values, now);
        }
    }
    for ((pair, plan), values) in pairs.iter().zip(&seen.pairs).zip(&minute.pairs) {
        if *plan == Plan::Ask {
            seen.next.answered_pair(pair.topic, pair.group, *values, now);
        }
    }
    broker_families(f, labels, &minute);
    topic_families(f, labels, &topics, &resolve(&seen.topics, &minute.topics));
    // Online consumers (read once, shared with the guard) give the exporter's
    // countOfOnlineConsumers and msgModel labels.
    pair_families(f, labels, &pairs, &read.consumers, &resolve(&seen.pairs, &minute.pairs));
    Ok((dropped_topics + dropped_pairs, seen.next))
}

/// The one-minute statistics of one refresh, by position: the broker's two, then two per topic
/// and three per pair in the order of the lists they were asked for (None: not asked this
/// refresh, or the broker has no such statistic, which is 0).
struct Minute {
    broker: [Option<StatsMinute>; 2],
    topics: Vec<[Option<StatsMinute>; 2]>,
    pairs: Vec<[Option<StatsMinute>; 3]>,
}

const BROKER_STATS: [&str; 2] = ["BROKER_PUT_NUMS", "BROKER_GET_NUMS"];
const TOPIC_STATS: [&str; 2] = ["TOPIC_PUT_NUMS", "TOPIC_PUT_SIZE"];
const PAIR_STATS: [&str; 3] = ["GROUP_GET_NUMS", "GROUP_GET_SIZE", "SNDBCK_PUT_NUMS"];

/// Where one asked statistic goes in [`Minute`].
#[derive(Clone, Copy)]
enum Slot {
    Broker(usize),
    Topic(usize, usize),
    Pair(usize, usize),
}

/// What a refresh asks the minute statistics for: the topics and pairs it renders, each with
/// whether its statistics can be other than 0.
struct Asked<'a, 'p> {
    cluster: &'a str,
    topics: &'a [(&'a String, i64)],
    topic_plans: &'a [Plan<TopicValues>],
    pairs: &'a [Pair<'p>],
    pair_plans: &'a [Plan<PairValues>],
}

/// Each key's values for rendering: answered now, kept, 0, or None (unknown: series left out).
fn resolve<V: Copy + Default>(plans: &[Plan<V>], answered: &[V]) -> Vec<Option<V>> {
    let value = |(plan, answer): (&Plan<V>, &V)| match plan {
        Plan::Zero => Some(V::default()),
        Plan::Ask => Some(*answer),
        Plan::Kept(v) => Some(*v),
        Plan::Unknown => None,
    };
    plans.iter().zip(answered).map(value).collect()
}

/// Topics by size (sum of queue max offsets), largest first, cut at `max`; and how many were cut.
fn largest_topics(read: &BrokerOffsets, max: usize) -> (Vec<(&String, i64)>, usize) {
    let mut by_size: Vec<(&String, i64)> = read.stats.iter().map(|(t, q)| (t, topic_size(q))).collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let dropped = by_size.len().saturating_sub(max);
    by_size.truncate(max);
    (by_size, dropped)
}

/// A topic's size: the sum of its queues' max offsets (0: it never held a message).
fn topic_size(queues: &TopicOffsets) -> i64 {
    queues.values().map(|(_, max)| *max).fold(0, i64::saturating_add)
}

/// Group/topic pairs by lag, largest first, cut at `max`; and how many were cut.
fn largest_lags(read: &BrokerOffsets, max: usize) -> (Vec<Pair<'_>>, usize) {
    let mut stats = InOrder::new(&read.stats);
    let mut pairs: Vec<Pair> = read
        .offsets
        .iter()
        .filter(|((topic, _), _)| !topic.starts_with(DLQ_PREFIX))
        .filter_map(|((topic, group), committed)| {
            let queues = stats.get(topic)?;
            let committed_at = |q: &u32| committed.get(q).copied().unwrap_or(0).max(0);
            Some(Pair {
                topic,
                group,
                committed: queues.keys().map(committed_at).fold(0, i64::saturating_add),
                lag: queues
                    .iter()
                    .map(|(q, (_, max))| max.saturating_sub(committed_at(q)))
                    .fold(0, i64::saturating_add),
                empty_topic: topic_size(queues) <= 0,
            })
        })
        .collect();
    pairs.sort_by(|a, b| b.lag.cmp(&a.lag).then((a.group, a.topic).cmp(&(b.group, b.topic))));
    let dropped = pairs.len().saturating_sub(max);
    pairs.truncate(max);
    (pairs, dropped)
}

/// Throughput from the broker's own one-minute statistics (what the exporter reads).
async fn minute_stats(
    admin: &Arc<BrokerAdmin>,
    asked: Asked<'_, '_>,
    concurrency: usize,
) -> Result<Minute, AdminError> {
    let mut wanted: Vec<(Slot, &'static str, String)> =
        BROKER_STATS.iter().enumerate().map(|(i, name)| (Slot::Broker(i), *name, asked.cluster.to_string())).collect();
    for (t, ((topic, _), plan)) in asked.topics.iter().zip(asked.topic_plans).enumerate() {
        if *plan == Plan::Ask {
            wanted
                .extend(TOPIC_STATS.iter().enumerate().map(|(i, name)| (Slot::Topic(t, i), *name, topic.to_string())));
        }
    }
    for (p, (pair, plan)) in asked.pairs.iter().zip(asked.pair_plans).enumerate() {
        if *plan == Plan::Ask {
            let key = format!("{}@{}", pair.topic, pair.group);
            wanted.extend(PAIR_STATS.iter().enumerate().map(|(i, name)| (Slot::Pair(p, i), *name, key.clone())));
        }
    }
    let answers = bounded(admin, wanted, concurrency, |admin, (_, name, key): &(Slot, &'static str, String)| {
        let (name, key) = (*name, key.clone());
        async move { admin.stats_minute(name, &key).await }
    })
    .await?;
    let mut minute = Minute {
        broker: [None; 2],
        topics: vec![[None; 2]; asked.topics.len()],
        pairs: vec![[None; 3]; asked.pairs.len()],
    };
    for ((slot, _, _), stats) in answers {
        match slot {
            Slot::Broker(i) => minute.broker[i] = Some(stats),
            Slot::Topic(t, i) => minute.topics[t][i] = Some(stats),
            Slot::Pair(p, i) => minute.pairs[p][i] = Some(stats),
        }
    }
    Ok(minute)
}

fn broker_families(f: &mut Families, [cluster, broker, addr]: [&str; 3], minute: &Minute) {
    let broker_labels = ["cluster", "brokerIP", "broker"];
    for (name, stats) in ["rocketmq_broker_tps", "rocketmq_broker_qps"].into_iter().zip(minute.broker) {
        let v = stats.map_or(0.0, |s| s.tps);
        f.set(name, "Broker messages per second over the last minute", &broker_labels, &[cluster, addr, broker], v);
    }
}

fn topic_families(
    f: &mut Families,
    [cluster, broker, _]: [&str; 3],
    topics: &[(&String, i64)],
    minute: &[Option<TopicValues>],
) {
    let topic_labels = ["cluster", "broker", "topic"];
    let offset = f.family("rocketmq_producer_offset", "Topic offset (sum of queue max offsets)");
    let tps = f.family("rocketmq_producer_tps", "Messages put per second (last minute)");
    let size_rate = f.family("rocketmq_producer_message_size", "Bytes put per second (last minute)");
    for ((topic, size), values) in topics.iter().zip(minute) {
        if let Some(group) = topic.strip_prefix(DLQ_PREFIX) {
            let help = "Dead-letter topic offset (sum of queue max offsets)";
            let labels = [cluster, broker, group];
            f.set("rocketmq_topic_dlq_offset", help, &["cluster", "broker", "group"], &labels, *size as f64);
        } else if topic.starts_with(RETRY_PREFIX) {
            let help = "Retry topic offset (sum of queue max offsets)";
            f.set("rocketmq_topic_retry_offset", help, &topic_labels, &[cluster, broker, topic], *size as f64);
        } else {
            let block = label_block(&topic_labels, &[cluster, broker, topic.as_str()]);
            f.sample(offset, &block, *size as f64);
            // Not asked yet (a cold start over the budget): left out rather than shown as 0.
            let Some([puts, bytes]) = values else { continue };
            f.sample(tps, &block, puts.map_or(0.0, |s| s.tps));
            f.sample(size_rate, &block, bytes.map_or(0.0, |s| s.tps));
        }
    }
}

fn pair_families(
    f: &mut Families,
    [cluster, broker, _]: [&str; 3],
    pairs: &[Pair<'_>],
    online: &std::collections::BTreeMap<String, OnlineConsumers>,
    minute: &[Option<PairValues>],
) {
    let pair_labels = ["cluster", "broker", "topic", "group"];
    let diff_labels = ["group", "topic", "countOfOnlineConsumers", "msgModel"];
    let offset = f.family("rocketmq_consumer_offset", "Committed consumer offset (sum over queues)");
    let tps = f.family("rocketmq_consumer_tps", "Messages pulled per second (last minute)");
    let size_rate = f.family("rocketmq_consumer_message_size", "Bytes pulled per second (last minute)");
    let sent_back = f.family("rocketmq_send_back_nums", "Messages sent back for retry (last minute)");
    let retry_diff = f.family("rocketmq_group_retrydiff", "Unconsumed messages of a group's retry topic");
    let diff = f.family("rocketmq_group_diff", "Unconsumed messages: sum over queues of max offset - committed offset");
    for (p, values) in pairs.iter().zip(minute) {
        let block = label_block(&pair_labels, &[cluster, broker, p.topic, p.group]);
        f.sample(offset, &block, p.committed as f64);
        // Not asked yet (a cold start over the budget): left out rather than shown as 0.
        if let Some([gets, bytes, back]) = values {
            f.sample(tps, &block, gets.map_or(0.0, |s| s.tps));
            f.sample(size_rate, &block, bytes.map_or(0.0, |s| s.tps));
            f.sample(sent_back, &block, back.map_or(0.0, |s| s.sum as f64));
        }

        let consumers = online.get(p.group);
        // The exporter skips BROADCASTING groups (their offsets live on the clients) and labels
        // the model with its Java ordinal: BROADCASTING 0, CLUSTERING 1 (also for offline groups).
        if consumers.is_some_and(OnlineConsumers::is_broadcasting) {
            continue;
        }
        let count = consumers.map_or(0, |c| c.clients.len()).to_string();
        let family = if p.topic.starts_with(RETRY_PREFIX) { retry_diff } else { diff };
        f.sample(family, &label_block(&diff_labels, &[p.group, p.topic, count.as_str(), "1"]), p.lag as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_as_prometheus_text_with_escaped_labels() {
        let mut f = Families::new();
        f.set("rocketmq_b", "B's help", &["topic"], &["a\"b\\c\nd"], 2.0);
        f.set("rocketmq_a", "A", &["x", "y"], &["1", "2"], 0.5);
        f.set("rocketmq_a", "A", &["x", "y"], &["3", "4"], f64::INFINITY);
        // Named up front and never set: no header without samples.
        f.family("rocketmq_0_unused", "never set");
        // One label block written into two families.
        let (c, d) = (f.family("rocketmq_c", "C"), f.family("rocketmq_d", "D"));
        let block = label_block(&["t"], &["x"]);
        f.sample(d, &block, -3.0);
        f.sample(c, &block, 1e21);
        f.sample(d, &label_block(&[], &[]), f64::NAN);
        let snap = f.render(7);
        assert_eq!((snap.series, snap.dropped), (6, 7));
        let want = "# HELP rocketmq_a A\n# TYPE rocketmq_a gauge\nrocketmq_a{x=\"1\",y=\"2\"} 0.5\n\
                    rocketmq_a{x=\"3\",y=\"4\"} +Inf\n# HELP rocketmq_b B's help\n# TYPE rocketmq_b gauge\n\
                    rocketmq_b{topic=\"a\\\"b\\\\c\\nd\"} 2\n\
                    # HELP rocketmq_c C\n# TYPE rocketmq_c gauge\nrocketmq_c{t=\"x\"} 1000000000000000000000\n\
                    # HELP rocketmq_d D\n# TYPE rocketmq_d gauge\nrocketmq_d{t=\"x\"} -3\nrocketmq_d NaN\n";
        assert_eq!(snap.text, want.as_bytes());
    }
}
