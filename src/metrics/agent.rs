//! The agent's own metrics (`rocketmq_sidecar_*`). Request and check timings are observed as they
//! happen; everything else comes from a [`StateCollector`] that builds its families for each scrape
//! from the jobs' snapshots, so it is never older than the state it describes and concurrent
//! scrapes share nothing they write.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::reload::ReloadState;
use crate::remoting::RequestObserver;
use crate::role::poller::CheckObserver;
use crate::role::{Counters, NamesrvCheck, ProbeState, Role, View};

use super::cache::{BrokerMetrics, CacheView};

/// Request latency buckets: loopback answers take well under a millisecond; the top buckets
/// catch timeouts (the default request limit is 2 s).
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The metrics that events update as they happen (request and check timings, failures by kind),
/// shared by every listener. Everything else is built afresh for each scrape from the states'
/// snapshots ([`Scrape`]), so two scrapes at once (an HA Prometheus pair, the main and the agent
/// listener) never write the same series: no counter raised twice, no gauge vector cleared under
/// another scrape's feet.
pub struct AgentMetrics {
    registry: Registry,
    check_duration: HistogramVec,
    check_errors: IntCounterVec,
    request_duration: HistogramVec,
    request_errors: IntCounterVec,
}

/// The state-derived metrics of one scrape, in a registry of their own.
struct Scrape {
    registry: Registry,
    build: IntGaugeVec,
    broker_up: IntGauge,
    role: IntGaugeVec,
    role_changes: IntCounter,
    checks: IntCounter,
    check_failures: IntCounter,
    last_check_ok: Gauge,
    reload_outcomes: IntCounterVec,
    writable: IntGaugeVec,
    restart_required: IntGauge,
    commitlog_diff: GaugeVec,
    broker_refresh_ok: Gauge,
    broker_refresh_seconds: Gauge,
    broker_refresh_errors: IntCounterVec,
    broker_stats_kept: IntCounter,
    broker_stats_caught_up: IntCounter,
    broker_topics_read_again: IntCounter,
    broker_series: IntGauge,
    broker_dropped: IntGauge,
    backlog: IntGaugeVec,
    best_effort_unavailable: IntGaugeVec,
    reload_set_aside: IntCounter,
    dledger_term: IntGauge,
    dledger_leader: IntGaugeVec,
}

fn name(n: &str) -> String {
    format!("rocketmq_sidecar_{n}")
}

fn opts(n: &str, help: &str) -> Opts {
    Opts::new(name(n), help)
}

fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Registers a new metric in `registry` and hands it back. The definitions are constants, so a
/// failure is a bug.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: prometheus::Result<M>) -> M {
    let metric = metric.expect("valid metric definition");
    registry.register(Box::new(metric.clone())).expect("metric registered once");
    metric
}

impl AgentMetrics {
    pub fn new() -> AgentMetrics {
        let registry = Registry::new();
        let hist = |n: &str, help: &str| HistogramOpts::new(name(n), help).buckets(BUCKETS.to_vec());
        AgentMetrics {
            check_duration: register(
                &registry,
                HistogramVec::new(hist("probe_duration_seconds", "Role check duration"), &["probe"]),
            ),
            check_errors: register(
                &registry,
                IntCounterVec::new(opts("probe_errors_total", "Failed role checks by error kind"), &["probe", "kind"]),
            ),
            request_duration: register(
                &registry,
                HistogramVec::new(
                    hist("request_duration_seconds", "Duration of requests to the broker and name servers"),
                    &["request"],
                ),
            ),
            request_errors: register(
                &registry,
                IntCounterVec::new(
                    opts("request_errors_total", "Requests that got no answer, by request and error kind"),
                    &["request", "kind"],
                ),
            ),
            registry,
        }
    }

    /// Times every remoting request and counts the ones that got no answer.
    pub fn request_observer(self: &Arc<Self>) -> RequestObserver {
        let me = self.clone();
        RequestObserver(Arc::new(move |request, took: Duration, error| {
            me.request_duration.with_label_values(&[request]).observe(took.as_secs_f64());
            if let Some(kind) = error {
                me.request_errors.with_label_values(&[request, kind]).inc();
            }
        }))
    }

    /// Times every role check and counts failures by kind.
    pub fn check_observer(self: &Arc<Self>) -> CheckObserver {
        let me = self.clone();
        Arc::new(move |took: Duration, error| {
            me.check_duration.with_label_values(&["role"]).observe(took.as_secs_f64());
            if let Some(kind) = error {
                me.check_errors.with_label_values(&["role", kind]).inc();
            }
        })
    }

    /// The whole `/metrics` page: the agent's metrics, then the broker's from the cache.
    pub fn render(&self, probe: &ProbeState, reload: Option<&ReloadState>, broker: Option<&BrokerMetrics>) -> String {
        let (mut page, broker) = self.render_parts(probe, reload, broker);
        page.push_str(&String::from_utf8_lossy(&broker));
        page
    }

    /// The page in two parts: the agent's metrics, written for this scrape, and the broker's, the
    /// cache's own bytes (shared, not copied).
    pub fn render_parts(
        &self,
        probe: &ProbeState,
        reload: Option<&ReloadState>,
        broker: Option<&BrokerMetrics>,
    ) -> (String, axum::body::Bytes) {
        let cache = broker.map(BrokerMetrics::view).unwrap_or_default();
        let states = StateCollector { probe, reload, cache: &cache };
        let mut families = self.registry.gather();
        families.extend(states.collect());
        families.sort_by(|a, b| a.get_name().cmp(b.get_name()));
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&families, &mut buf);
        let page = String::from_utf8_lossy(&buf).into_owned();
        // The broker's series: the same cache snapshot the collector read.
        (page, cache.snapshot.as_deref().map(|s| s.text.clone()).unwrap_or_default())
    }
}

/// The families built from the jobs' snapshots, as a prometheus [`Collector`]: each collect takes
/// one snapshot of each state and builds the families afresh ([`Scrape`]). It writes nothing that
/// another collect reads, so scrapes at once are consistent by construction: no counter raised
/// twice, no series cleared under another scrape's feet.
pub struct StateCollector<'a> {
    pub probe: &'a ProbeState,
    pub reload: Option<&'a ReloadState>,
    pub cache: &'a CacheView,
}

impl Collector for StateCollector<'_> {
    fn desc(&self) -> Vec<&Desc> {
        static DESCS: std::sync::OnceLock<Vec<Desc>> = std::sync::OnceLock::new();
        let descs = DESCS.get_or_init(|| {
            let template = Scrape::new();
            template.collectors().iter().flat_map(|c| c.desc().into_iter().cloned().collect::<Vec<_>>()).collect()
        });
        descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let scrape = Scrape::new();
        // One view of the role state for the whole page.
        let probe = self.probe.snapshot();
        let view = probe.view(self.probe.interval(), tokio::time::Instant::now());
        scrape.fill_role(&view, probe.counters());
        if let Some(reload) = self.reload {
            scrape.fill_reload(reload);
        }
        scrape.fill_cache(self.cache, view.observation.as_ref().map(|o| o.broker_name.as_str()));
        scrape.registry.gather()
    }
}

impl Scrape {
    /// Every metric of a scrape (for the collector's descriptions).
    fn collectors(&self) -> [&dyn Collector; 24] {
        [
            &self.build,
            &self.broker_up,
            &self.role,
            &self.role_changes,
            &self.checks,
            &self.check_failures,
            &self.last_check_ok,
            &self.reload_outcomes,
            &self.writable,
            &self.restart_required,
            &self.commitlog_diff,
            &self.broker_refresh_ok,
            &self.broker_refresh_seconds,
            &self.broker_refresh_errors,
            &self.broker_stats_kept,
            &self.broker_stats_caught_up,
            &self.broker_topics_read_again,
            &self.broker_series,
            &self.broker_dropped,
            &self.backlog,
            &self.best_effort_unavailable,
            &self.reload_set_aside,
            &self.dledger_term,
            &self.dledger_leader,
        ]
    }

    fn new() -> Scrape {
        let registry = Registry::new();
        let build = register(&registry, IntGaugeVec::new(opts("build_info", "Agent version (always 1)"), &["version"]));
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let r = &registry;
        Scrape {
            build,
            broker_up: register(
                r,
                IntGauge::with_opts(opts("broker_up", "1 while the broker answers the role check (fresh), else 0")),
            ),
            role: register(
                r,
                IntGaugeVec::new(
                    opts("role", "1 for the broker's current role (master, slave, unknown), 0 for the others"),
                    &["role"],
                ),
            ),
            writable: register(
                r,
                IntGaugeVec::new(
                    opts(
                        "broker_writable",
                        "1 while the broker takes writes (brokerPermission has the write bit), 0 while it is \
                         read-only (a scale-in drain or preTerminate stopped them); absent while unknown",
                    ),
                    &["broker"],
                ),
            ),
            role_changes: register(r, IntCounter::with_opts(opts("role_changes_total", "Reported role changes"))),
            checks: register(r, IntCounter::with_opts(opts("role_checks_total", "Role checks finished"))),
            check_failures: register(
                r,
                IntCounter::with_opts(opts("role_check_failures_total", "Role checks that failed")),
            ),
            last_check_ok: register(
                r,
                Gauge::with_opts(opts(
                    "last_successful_check_timestamp_seconds",
                    "When the broker last answered the role check (Unix time)",
                )),
            ),
            reload_outcomes: register(
                r,
                IntCounterVec::new(opts("reload_outcomes_total", "Config reloader checks by outcome"), &["result"]),
            ),
            dledger_term: register(
                r,
                IntGauge::with_opts(opts(
                    "dledger_term",
                    "DLedger mode: the current term as the broker's own DLedger member sees it (-1 otherwise, or unknown)",
                )),
            ),
            dledger_leader: register(
                r,
                IntGaugeVec::new(
                    opts(
                        "dledger_leader",
                        "DLedger mode: 1 for the group's leader, by member id (as the broker's member sees it)",
                    ),
                    &["leader"],
                ),
            ),
            restart_required: register(
                r,
                IntGauge::with_opts(opts(
                    "reload_restart_required_params",
                    "Parameters in the config file that need a broker restart to take effect",
                )),
            ),
            commitlog_diff: register(
                r,
                GaugeVec::new(
                    Opts::new(
                        "rocketmq_broker_commitlog_diff",
                        "Bytes a slave is behind its master (master commitLogMaxOffset - slave's), as rocketmq-exporter",
                    ),
                    &["cluster", "brokerIP", "broker"],
                ),
            ),
            broker_refresh_ok: register(
                r,
                Gauge::with_opts(opts(
                    "broker_metrics_last_success_timestamp_seconds",
                    "When the broker metrics were last refreshed successfully (Unix time)",
                )),
            ),
            broker_refresh_seconds: register(
                r,
                Gauge::with_opts(opts("broker_metrics_refresh_seconds", "How long the last broker metrics refresh took")),
            ),
            broker_refresh_errors: register(
                r,
                IntCounterVec::new(
                    opts("broker_metrics_refresh_errors_total", "Failed broker metrics refreshes by error kind"),
                    &["kind"],
                ),
            ),
            broker_stats_kept: register(
                r,
                IntCounter::with_opts(opts(
                    "broker_metrics_topic_stats_kept_total",
                    "Refreshes that used the previous refresh's topic offsets: the commit log had not moved since before they were read",
                )),
            ),
            broker_stats_caught_up: register(
                r,
                IntCounter::with_opts(opts(
                    "broker_metrics_topic_stats_caught_up_total",
                    "Refreshes that moved the previous refresh's topic offsets on by the commit-log entries appended since, instead of asking every topic",
                )),
            ),
            broker_topics_read_again: register(
                r,
                IntCounter::with_opts(opts(
                    "broker_metrics_topics_read_again_total",
                    "Topics whose kept offsets a refresh read again in their turn (every topic once a minute, a share per refresh)",
                )),
            ),
            broker_series: register(
                r,
                IntGauge::with_opts(opts("broker_metrics_series", "Broker series in the last refresh")),
            ),
            broker_dropped: register(
                r,
                IntGauge::with_opts(opts(
                    "broker_metrics_dropped",
                    "Topics and group/topic pairs left out by --metrics-max-series in the last refresh",
                )),
            ),
            backlog: register(
                r,
                IntGaugeVec::new(
                    opts(
                        "scale_in_backlog_messages",
                        "Messages that would block a scale-in of this shard, as `scale-in check` counts them \
                         (masters only; absent while unknown)",
                    ),
                    &["broker"],
                ),
            ),
            reload_set_aside: register(
                r,
                IntCounter::with_opts(opts(
                    "reload_set_aside_total",
                    "Values of the config file the broker did not take, set aside until the file changes",
                )),
            ),
            best_effort_unavailable: register(
                r,
                IntGaugeVec::new(
                    opts(
                        "best_effort_unavailable",
                        "1 when the latest role check could not get a best-effort part in its budget \
                         (namesrv_check: the name-server cross-check; slave_lag: the master's offset)",
                    ),
                    &["part"],
                ),
            ),
            registry,
        }
    }

    /// The role poller's snapshot: up, role, counters, best-effort parts, DLedger, a slave's lag.
    fn fill_role(&self, view: &View, counters: Counters) {
        self.broker_up.set(view.healthy as i64);
        let current = view.role.map(Role::as_str).unwrap_or("unknown");
        for r in ["master", "slave", "unknown"] {
            self.role.with_label_values(&[r]).set((r == current) as i64);
        }
        self.role_changes.inc_by(counters.role_changes);
        self.checks.inc_by(counters.checks);
        self.check_failures.inc_by(counters.failures);
        if let Some(t) = counters.last_ok {
            self.last_check_ok.set(epoch_secs(t));
        }
        let current = view.observation.as_ref().filter(|_| view.healthy);
        if let Some((obs, w)) = current.and_then(|o| o.writable.map(|w| (o, w))) {
            self.writable.with_label_values(&[obs.broker_name.as_str()]).set(w as i64);
        }
        let namesrv_down = current.is_some_and(|o| matches!(o.namesrv_check, NamesrvCheck::Unavailable(_)));
        let lag_down = current.is_some_and(|o| o.slave_lag_unavailable.is_some());
        self.best_effort_unavailable.with_label_values(&["namesrv_check"]).set(namesrv_down as i64);
        self.best_effort_unavailable.with_label_values(&["slave_lag"]).set(lag_down as i64);
        match current.and_then(|o| o.dledger_view.as_ref()) {
            Some(view) => {
                self.dledger_term.set(view.term.unwrap_or(-1));
                if let Some(leader) = &view.leader_id {
                    self.dledger_leader.with_label_values(&[leader.as_str()]).set(1);
                }
            }
            None => self.dledger_term.set(-1),
        }
        // Only a slave that knows its lag exports it; a former slave's series goes away.
        if let Some(obs) = view.observation.as_ref().filter(|o| view.role == Some(Role::Slave) && o.role == Role::Slave)
        {
            if let Some(lag) = obs.slave_lag_bytes {
                let labels = [obs.cluster.as_str(), obs.registered_addr.as_str(), obs.broker_name.as_str()];
                self.commitlog_diff.with_label_values(&labels).set(lag as f64);
            }
        }
    }

    /// The reloader's counters and pending restarts.
    fn fill_reload(&self, reload: &ReloadState) {
        for (outcome, total) in reload.outcome_counts() {
            self.reload_outcomes.with_label_values(&[outcome.label()]).inc_by(total);
        }
        self.restart_required.set(reload.restart_required_params() as i64);
        self.reload_set_aside.inc_by(reload.set_aside_total());
    }

    /// The broker metrics cache: its health, size and the scale-in backlog.
    fn fill_cache(&self, cache: &CacheView, broker_name: Option<&str>) {
        if let Some(t) = cache.last_ok {
            self.broker_refresh_ok.set(epoch_secs(t));
        }
        if let Some(d) = cache.last_duration {
            self.broker_refresh_seconds.set(d.as_secs_f64());
        }
        for (kind, total) in &cache.errors {
            self.broker_refresh_errors.with_label_values(&[kind]).inc_by(*total);
        }
        self.broker_stats_kept.inc_by(cache.topic_stats_kept);
        self.broker_stats_caught_up.inc_by(cache.topic_stats_caught_up);
        self.broker_topics_read_again.inc_by(cache.topics_read_again);
        let snapshot = cache.snapshot.as_deref();
        self.broker_series.set(snapshot.map_or(0, |s| s.series) as i64);
        self.broker_dropped.set(snapshot.map_or(0, |s| s.dropped) as i64);
        if let (Some(b), Some(name)) = (cache.backlog, broker_name) {
            self.backlog.with_label_values(&[name]).set(b as i64);
        }
    }
}

impl Default for AgentMetrics {
    fn default() -> Self {
        AgentMetrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::RoleError;

    #[test]
    fn the_state_collector_describes_every_family_it_collects() {
        let probe = ProbeState::new(Duration::from_secs(1), "127.0.0.1:10911");
        let cache = CacheView::default();
        let states = StateCollector { probe: &probe, reload: None, cache: &cache };
        let described: std::collections::BTreeSet<&str> = states.desc().iter().map(|d| d.fq_name.as_str()).collect();
        assert_eq!(described.len(), states.desc().len(), "each family described once");
        for family in states.collect() {
            assert!(described.contains(family.get_name()), "{} collected but not described", family.get_name());
        }
    }

    fn value(page: &str, series: &str) -> Option<f64> {
        page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Scrapes from many threads at once (an HA Prometheus pair, both listeners) while checks are
    /// recorded: every page has all three role series and counters that equal the state's totals at
    /// some moment, never above what was recorded, and never lower than an earlier page's.
    #[test]
    fn concurrent_scrapes_neither_lose_series_nor_push_counters_past_the_truth() {
        let metrics = Arc::new(AgentMetrics::new());
        let probe = Arc::new(ProbeState::new(Duration::from_secs(1), "127.0.0.1:10911"));
        let failed =
            || -> Result<crate::role::Observation, RoleError> { Err(RoleError::Conflict("a test failure".into())) };
        const CHECKS: u64 = 400;
        std::thread::scope(|s| {
            let recorder = s.spawn(|| {
                for _ in 0..CHECKS {
                    probe.record(&failed());
                }
            });
            let scrapers: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        let mut last = 0.0;
                        for _ in 0..150 {
                            let page = metrics.render(&probe, None, None);
                            for role in ["master", "slave", "unknown"] {
                                let series = format!("rocketmq_sidecar_role{{role=\"{role}\"}}");
                                assert!(value(&page, &series).is_some(), "{series} missing:\n{page}");
                            }
                            let checks = value(&page, "rocketmq_sidecar_role_checks_total").unwrap();
                            assert!(checks >= last && checks <= CHECKS as f64, "{checks} after {last}");
                            last = checks;
                        }
                    })
                })
                .collect();
            recorder.join().unwrap();
            for t in scrapers {
                t.join().unwrap();
            }
        });
        let page = metrics.render(&probe, None, None);
        assert_eq!(value(&page, "rocketmq_sidecar_role_checks_total"), Some(CHECKS as f64));
        assert_eq!(value(&page, "rocketmq_sidecar_role_check_failures_total"), Some(CHECKS as f64));
    }
}
