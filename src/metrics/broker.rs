//! One pass over the broker for rocketmq-exporter-compatible metrics (same names and labels, so
//! its Grafana dashboards work unchanged). A master exports its topics, groups, offsets, lag and
//! throughput; a slave only its runtime gauges (the exporter reads masters only, and a slave's
//! copies would double every sum on a dashboard).

use std::collections::HashMap;
use std::sync::Arc;

use crate::admin::{
    bounded, is_master, AdminError, BrokerAdmin, OnlineConsumers, StatsMinute, TopicOffsets, DLQ_PREFIX, RETRY_PREFIX,
};
use crate::guard::{self, Backlog, BrokerOffsets, GuardError, Policy};

use super::quiet::Quiet;
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
    pub text: String,
    pub series: usize,
    /// Topics and group/topic pairs left out by [`Limits::max_series`].
    pub dropped: usize,
}

/// Gauge families filled during one pass, written straight as Prometheus text (format 0.0.4).
/// A pass at 10,000 groups fills ~25,000 series once and never changes them, so a Registry of
/// GaugeVecs (a hashed child, label strings and a protobuf-like copy per series at gather time)
/// would only cost memory and time: the text itself is all a scrape needs.
#[derive(Default)]
struct Families {
    /// Family name -> its HELP line and its sample lines, in the order they were set.
    text: std::collections::BTreeMap<String, (String, String)>,
    series: usize,
}

impl Families {
    fn new() -> Families {
        Families::default()
    }

    fn set(&mut self, name: &str, help: &str, labels: &[&str], values: &[&str], v: f64) {
        use std::fmt::Write;
        let (_, lines) = self.text.entry(name.to_string()).or_insert_with(|| (help.to_string(), String::new()));
        lines.push_str(name);
        for (i, (label, value)) in labels.iter().zip(values).enumerate() {
            lines.push(if i == 0 { '{' } else { ',' });
            let _ = write!(lines, "{label}=\"{}\"", escape_label(value));
        }
        if !labels.is_empty() {
            lines.push('}');
        }
        let _ = writeln!(lines, " {}", sample_value(v));
        self.series += 1;
    }

    fn render(self, dropped: usize) -> Snapshot {
        let size: usize = self.text.iter().map(|(n, (h, l))| 2 * n.len() + h.len() + l.len() + 32).sum();
        let mut text = String::with_capacity(size);
        for (name, (help, lines)) in &self.text {
            text.push_str(&format!("# HELP {name} {}\n# TYPE {name} gauge\n", escape_help(help)));
            text.push_str(lines);
        }
        Snapshot { text, series: self.series, dropped }
    }
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn escape_label(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\\', '"', '\n']) {
        return v.into();
    }
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
}

/// A HELP text: backslash and newline escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus writes it (integers without a fraction, `+Inf`, `NaN`).
fn sample_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// One refresh: the rendered metrics and, on a master, the scale-in backlog computed from the
/// same read (None on a slave).
pub struct Collected {
    pub snapshot: Snapshot,
    pub backlog: Option<Result<Backlog, GuardError>>,
    /// The quiet tracker for the next refresh (None on a slave: nothing to track).
    pub quiet: Option<Quiet>,
}

/// Asks the broker for everything the metrics need; fails as a whole (no half-filled snapshot).
/// The runtime info comes from `sampler`, which asks for it only as often as its cost allows.
pub async fn collect(
    admin: Arc<BrokerAdmin>,
    limits: &Limits,
    sampler: &runtime::RuntimeSampler,
    quiet: &Quiet,
) -> Result<Collected, GuardError> {
    let err = |source: AdminError| GuardError::Broker { broker: admin.addr().to_string(), source };
    let (info, config) = tokio::join!(sampler.get(&admin), admin.config());
    let (info, config) = (info.map_err(err)?, config.map_err(err)?);
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
        return Ok(Collected { snapshot: f.render(0), backlog: None, quiet: None });
    }
    // One read of topics, offsets and queue stats serves both the metrics and the backlog (its
    // timer-wheel totals from the same runtime sample).
    let read = guard::read_with_runtime(&admin, limits.concurrency, Some(&info)).await?;
    let policy = Policy { concurrency: limits.concurrency, ..Policy::default() };
    let (done, backlog) = tokio::join!(
        master_metrics(&admin, limits, &mut f, [&cluster, &broker, &addr], &read, quiet),
        guard::evaluate(admin.clone(), &read, &policy)
    );
    let (dropped, quiet) = done.map_err(err)?;
    Ok(Collected { snapshot: f.render(dropped), backlog: Some(backlog), quiet: Some(quiet) })
}

/// One group's progress on one topic, summed over the topic's queues as the broker's own
/// consume stats (and mqadmin consumerProgress) do: lag = Σ(max − committed), a queue without
/// a committed offset counting from 0.
struct Pair {
    topic: String,
    group: String,
    committed: i64,
    lag: i64,
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
    // Only the statistics that can be other than 0 are asked for (see `quiet`).
    let now = tokio::time::Instant::now();
    let online_with_backlog =
        |p: &Pair| p.lag > 0 && read.consumers.get(&p.group).is_some_and(|c| !c.clients.is_empty());
    let marks =
        pairs.iter().map(|p| ((p.topic.clone(), p.group.clone()), (p.committed, p.lag, online_with_backlog(p))));
    let seen = quiet.observe(&topics, marks, now);
    let asked_topics: Vec<_> = topics.iter().zip(&seen.ask_topics).filter(|(_, a)| **a).map(|(t, _)| t).collect();
    let asked_pairs: Vec<_> = pairs.iter().zip(&seen.ask_pairs).filter(|(_, a)| **a).map(|(p, _)| p).collect();
    tracing::debug!(
        topics = asked_topics.len(),
        of_topics = topics.len(),
        pairs = asked_pairs.len(),
        of_pairs = pairs.len(),
        "minute statistics asked for"
    );
    let minute = minute_stats(admin, labels[0], &asked_topics, &asked_pairs, limits.concurrency).await?;
    broker_families(f, labels, &minute);
    topic_families(f, labels, &topics, &minute);
    // Online consumers (read once, shared with the guard) give the exporter's
    // countOfOnlineConsumers and msgModel labels.
    pair_families(f, labels, &pairs, &read.consumers, &minute);
    Ok((dropped_topics + dropped_pairs, seen.next))
}

/// One-minute broker statistics by (stats name, key).
type Minute = HashMap<(&'static str, String), StatsMinute>;

fn stat(minute: &Minute, name: &'static str, key: &str) -> Option<StatsMinute> {
    minute.get(&(name, key.to_string())).copied()
}

/// Topics by size (sum of queue max offsets), largest first, cut at `max`; and how many were cut.
fn largest_topics(read: &BrokerOffsets, max: usize) -> (Vec<(&String, i64)>, usize) {
    let total = |q: &TopicOffsets| q.values().map(|(_, max)| *max).fold(0i64, i64::saturating_add);
    let mut by_size: Vec<(&String, i64)> = read.stats.iter().map(|(t, q)| (t, total(q))).collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let dropped = by_size.len().saturating_sub(max);
    by_size.truncate(max);
    (by_size, dropped)
}

/// Group/topic pairs by lag, largest first, cut at `max`; and how many were cut.
fn largest_lags(read: &BrokerOffsets, max: usize) -> (Vec<Pair>, usize) {
    let mut pairs: Vec<Pair> = read
        .offsets
        .iter()
        .filter(|((topic, _), _)| !topic.starts_with(DLQ_PREFIX))
        .filter_map(|((topic, group), committed)| {
            let queues = read.stats.get(topic)?;
            let committed_at = |q: &u32| committed.get(q).copied().unwrap_or(0).max(0);
            Some(Pair {
                topic: topic.clone(),
                group: group.clone(),
                committed: queues.keys().map(committed_at).fold(0, i64::saturating_add),
                lag: queues
                    .iter()
                    .map(|(q, (_, max))| max.saturating_sub(committed_at(q)))
                    .fold(0, i64::saturating_add),
            })
        })
        .collect();
    pairs.sort_by(|a, b| b.lag.cmp(&a.lag).then((&a.group, &a.topic).cmp(&(&b.group, &b.topic))));
    let dropped = pairs.len().saturating_sub(max);
    pairs.truncate(max);
    (pairs, dropped)
}

/// Throughput from the broker's own one-minute statistics (what the exporter reads).
async fn minute_stats(
    admin: &Arc<BrokerAdmin>,
    cluster: &str,
    topics: &[&(&String, i64)],
    pairs: &[&Pair],
    concurrency: usize,
) -> Result<Minute, AdminError> {
    let mut wanted: Vec<(&'static str, String)> =
        vec![("BROKER_PUT_NUMS", cluster.to_string()), ("BROKER_GET_NUMS", cluster.to_string())];
    for (topic, size) in topics {
        if *size > 0 && !topic.starts_with(RETRY_PREFIX) && !topic.starts_with(DLQ_PREFIX) {
            wanted.push(("TOPIC_PUT_NUMS", topic.to_string()));
            wanted.push(("TOPIC_PUT_SIZE", topic.to_string()));
        }
    }
    for p in pairs {
        for name in ["GROUP_GET_NUMS", "GROUP_GET_SIZE", "SNDBCK_PUT_NUMS"] {
            wanted.push((name, format!("{}@{}", p.topic, p.group)));
        }
    }
    let answers = bounded(admin, wanted, concurrency, |admin, (name, key): &(&'static str, String)| {
        let (name, key) = (*name, key.clone());
        async move { admin.stats_minute(name, &key).await }
    })
    .await?;
    Ok(answers.into_iter().collect())
}

fn broker_families(f: &mut Families, [cluster, broker, addr]: [&str; 3], minute: &Minute) {
    let broker_labels = ["cluster", "brokerIP", "broker"];
    for (name, stats_name) in [("rocketmq_broker_tps", "BROKER_PUT_NUMS"), ("rocketmq_broker_qps", "BROKER_GET_NUMS")] {
        let v = stat(minute, stats_name, cluster).map_or(0.0, |s| s.tps);
        f.set(name, "Broker messages per second over the last minute", &broker_labels, &[cluster, addr, broker], v);
    }
}

fn topic_families(f: &mut Families, [cluster, broker, _]: [&str; 3], topics: &[(&String, i64)], minute: &Minute) {
    let topic_labels = ["cluster", "broker", "topic"];
    for (topic, size) in topics {
        if let Some(group) = topic.strip_prefix(DLQ_PREFIX) {
            let help = "Dead-letter topic offset (sum of queue max offsets)";
            let labels = [cluster, broker, group];
            f.set("rocketmq_topic_dlq_offset", help, &["cluster", "broker", "group"], &labels, *size as f64);
        } else if topic.starts_with(RETRY_PREFIX) {
            let help = "Retry topic offset (sum of queue max offsets)";
            f.set("rocketmq_topic_retry_offset", help, &topic_labels, &[cluster, broker, topic], *size as f64);
        } else {
            let labels = [cluster, broker, topic.as_str()];
            let help = "Topic offset (sum of queue max offsets)";
            f.set("rocketmq_producer_offset", help, &topic_labels, &labels, *size as f64);
            let tps = stat(minute, "TOPIC_PUT_NUMS", topic).map_or(0.0, |s| s.tps);
            f.set("rocketmq_producer_tps", "Messages put per second (last minute)", &topic_labels, &labels, tps);
            let bytes = stat(minute, "TOPIC_PUT_SIZE", topic).map_or(0.0, |s| s.tps);
            let help = "Bytes put per second (last minute)";
            f.set("rocketmq_producer_message_size", help, &topic_labels, &labels, bytes);
        }
    }
}

fn pair_families(
    f: &mut Families,
    [cluster, broker, _]: [&str; 3],
    pairs: &[Pair],
    online: &std::collections::BTreeMap<String, OnlineConsumers>,
    minute: &Minute,
) {
    let pair_labels = ["cluster", "broker", "topic", "group"];
    let diff_labels = ["group", "topic", "countOfOnlineConsumers", "msgModel"];
    for p in pairs {
        let labels = [cluster, broker, p.topic.as_str(), p.group.as_str()];
        let key = format!("{}@{}", p.topic, p.group);
        let help = "Committed consumer offset (sum over queues)";
        f.set("rocketmq_consumer_offset", help, &pair_labels, &labels, p.committed as f64);
        let gets = stat(minute, "GROUP_GET_NUMS", &key).map_or(0.0, |s| s.tps);
        f.set("rocketmq_consumer_tps", "Messages pulled per second (last minute)", &pair_labels, &labels, gets);
        let bytes = stat(minute, "GROUP_GET_SIZE", &key).map_or(0.0, |s| s.tps);
        f.set("rocketmq_consumer_message_size", "Bytes pulled per second (last minute)", &pair_labels, &labels, bytes);
        let back = stat(minute, "SNDBCK_PUT_NUMS", &key).map_or(0.0, |s| s.sum as f64);
        f.set("rocketmq_send_back_nums", "Messages sent back for retry (last minute)", &pair_labels, &labels, back);

        let consumers = online.get(&p.group);
        // The exporter skips BROADCASTING groups (their offsets live on the clients) and labels
        // the model with its Java ordinal: BROADCASTING 0, CLUSTERING 1 (also for offline groups).
        if consumers.is_some_and(OnlineConsumers::is_broadcasting) {
            continue;
        }
        let count = consumers.map_or(0, |c| c.clients.len()).to_string();
        let labels = [p.group.as_str(), p.topic.as_str(), count.as_str(), "1"];
        let (name, help) = if p.topic.starts_with(RETRY_PREFIX) {
            ("rocketmq_group_retrydiff", "Unconsumed messages of a group's retry topic")
        } else {
            ("rocketmq_group_diff", "Unconsumed messages: sum over queues of max offset - committed offset")
        };
        f.set(name, help, &diff_labels, &labels, p.lag as f64);
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
        let snap = f.render(7);
        assert_eq!((snap.series, snap.dropped), (3, 7));
        let want = "# HELP rocketmq_a A\n# TYPE rocketmq_a gauge\nrocketmq_a{x=\"1\",y=\"2\"} 0.5\n\
                    rocketmq_a{x=\"3\",y=\"4\"} +Inf\n# HELP rocketmq_b B's help\n# TYPE rocketmq_b gauge\n\
                    rocketmq_b{topic=\"a\\\"b\\\\c\\nd\"} 2\n";
        assert_eq!(snap.text, want);
    }
}
