//! The agent's own metrics (`rocketmq_sidecar_*`). Request and check timings are observed as they
//! happen; everything else is copied from the shared states at scrape time, so it is never
//! older than the state it describes.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::reload::ReloadState;
use crate::remoting::RequestObserver;
use crate::role::poller::CheckObserver;
use crate::role::{NamesrvCheck, ProbeState, Role};

use super::cache::BrokerMetrics;

/// Request latency buckets: loopback answers take well under a millisecond; the top buckets
/// catch timeouts (the default request limit is 2 s).
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

pub struct AgentMetrics {
    registry: Registry,
    broker_up: IntGauge,
    role: IntGaugeVec,
    role_changes: IntCounter,
    checks: IntCounter,
    check_failures: IntCounter,
    check_duration: HistogramVec,
    check_errors: IntCounterVec,
    last_check_ok: Gauge,
    request_duration: HistogramVec,
    request_errors: IntCounterVec,
    reload_outcomes: IntCounterVec,
    writable: IntGaugeVec,
    restart_required: IntGauge,
    commitlog_diff: GaugeVec,
    broker_refresh_ok: Gauge,
    broker_refresh_seconds: Gauge,
    broker_refresh_errors: IntCounterVec,
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

fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Brings a counter up to a total kept elsewhere (the states count; Prometheus wants counters).
fn sync(counter: &IntCounter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

impl AgentMetrics {
    pub fn new() -> AgentMetrics {
        let registry = Registry::new();
        macro_rules! reg {
            ($m:expr) => {{
                let m = $m.expect("valid metric definition");
                registry.register(Box::new(m.clone())).expect("metric registered once");
                m
            }};
        }
        let opts = |n: &str, help: &str| Opts::new(name(n), help);
        let hist = |n: &str, help: &str| HistogramOpts::new(name(n), help).buckets(BUCKETS.to_vec());
        let build = reg!(IntGaugeVec::new(opts("build_info", "Agent version (always 1)"), &["version"]));
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        AgentMetrics {
            broker_up: reg!(IntGauge::with_opts(opts(
                "broker_up",
                "1 while the broker answers the role check (fresh), else 0"
            ))),
            role: reg!(IntGaugeVec::new(
                opts("role", "1 for the broker's current role (master, slave, unknown), 0 for the others"),
                &["role"]
            )),
            writable: reg!(IntGaugeVec::new(
                opts(
                    "broker_writable",
                    "1 while the broker takes writes (brokerPermission has the write bit), 0 while it is \
                     read-only (a scale-in drain or preTerminate stopped them); absent while unknown"
                ),
                &["broker"]
            )),
            role_changes: reg!(IntCounter::with_opts(opts("role_changes_total", "Reported role changes"))),
            checks: reg!(IntCounter::with_opts(opts("role_checks_total", "Role checks finished"))),
            check_failures: reg!(IntCounter::with_opts(opts("role_check_failures_total", "Role checks that failed"))),
            check_duration: reg!(HistogramVec::new(hist("probe_duration_seconds", "Role check duration"), &["probe"])),
            check_errors: reg!(IntCounterVec::new(
                opts("probe_errors_total", "Failed role checks by error kind"),
                &["probe", "kind"]
            )),
            last_check_ok: reg!(Gauge::with_opts(opts(
                "last_successful_check_timestamp_seconds",
                "When the broker last answered the role check (Unix time)"
            ))),
            request_duration: reg!(HistogramVec::new(
                hist("request_duration_seconds", "Duration of requests to the broker and name servers"),
                &["request"]
            )),
            request_errors: reg!(IntCounterVec::new(
                opts("request_errors_total", "Requests that got no answer, by request and error kind"),
                &["request", "kind"]
            )),
            reload_outcomes: reg!(IntCounterVec::new(
                opts("reload_outcomes_total", "Config reloader checks by outcome"),
                &["result"]
            )),
            dledger_term: reg!(IntGauge::with_opts(opts(
                "dledger_term",
                "DLedger mode: the current term as the broker's own DLedger member sees it (-1 otherwise, or unknown)"
            ))),
            dledger_leader: reg!(IntGaugeVec::new(
                opts(
                    "dledger_leader",
                    "DLedger mode: 1 for the group's leader, by member id (as the broker's member sees it)"
                ),
                &["leader"]
            )),
            restart_required: reg!(IntGauge::with_opts(opts(
                "reload_restart_required_params",
                "Parameters in the config file that need a broker restart to take effect"
            ))),
            commitlog_diff: reg!(GaugeVec::new(
                Opts::new(
                    "rocketmq_broker_commitlog_diff",
                    "Bytes a slave is behind its master (master commitLogMaxOffset - slave's), as rocketmq-exporter"
                ),
                &["cluster", "brokerIP", "broker"]
            )),
            broker_refresh_ok: reg!(Gauge::with_opts(opts(
                "broker_metrics_last_success_timestamp_seconds",
                "When the broker metrics were last refreshed successfully (Unix time)"
            ))),
            broker_refresh_seconds: reg!(Gauge::with_opts(opts(
                "broker_metrics_refresh_seconds",
                "How long the last broker metrics refresh took"
            ))),
            broker_refresh_errors: reg!(IntCounterVec::new(
                opts("broker_metrics_refresh_errors_total", "Failed broker metrics refreshes by error kind"),
                &["kind"]
            )),
            broker_series: reg!(IntGauge::with_opts(opts(
                "broker_metrics_series",
                "Broker series in the last refresh"
            ))),
            broker_dropped: reg!(IntGauge::with_opts(opts(
                "broker_metrics_dropped",
                "Topics and group/topic pairs left out by --metrics-max-series in the last refresh"
            ))),
            backlog: reg!(IntGaugeVec::new(
                opts(
                    "scale_in_backlog_messages",
                    "Messages that would block a scale-in of this shard, as `scale-in check` counts them \
                     (masters only; absent while unknown)"
                ),
                &["broker"]
            )),
            reload_set_aside: reg!(IntCounter::with_opts(opts(
                "reload_set_aside_total",
                "Values of the config file the broker did not take, set aside until the file changes"
            ))),
            best_effort_unavailable: reg!(IntGaugeVec::new(
                opts(
                    "best_effort_unavailable",
                    "1 when the latest role check could not get a best-effort part in its budget \
                     (namesrv_check: the name-server cross-check; slave_lag: the master's offset)"
                ),
                &["part"]
            )),
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
        let view = probe.view();
        self.broker_up.set(view.healthy as i64);
        let current = view.role.map(Role::as_str).unwrap_or("unknown");
        for r in ["master", "slave", "unknown"] {
            self.role.with_label_values(&[r]).set((r == current) as i64);
        }
        let counters = probe.counters();
        sync(&self.role_changes, counters.role_changes);
        sync(&self.checks, counters.checks);
        sync(&self.check_failures, counters.failures);
        if let Some(t) = counters.last_ok {
            self.last_check_ok.set(epoch_secs(t));
        }
        let current = view.observation.as_ref().filter(|_| view.healthy);
        self.writable.reset();
        if let Some((obs, w)) = current.and_then(|o| o.writable.map(|w| (o, w))) {
            self.writable.with_label_values(&[obs.broker_name.as_str()]).set(w as i64);
        }
        let namesrv_down = current.is_some_and(|o| matches!(o.namesrv_check, NamesrvCheck::Unavailable(_)));
        let lag_down = current.is_some_and(|o| o.slave_lag_unavailable.is_some());
        self.best_effort_unavailable.with_label_values(&["namesrv_check"]).set(namesrv_down as i64);
        self.best_effort_unavailable.with_label_values(&["slave_lag"]).set(lag_down as i64);
        self.dledger_leader.reset();
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
        self.commitlog_diff.reset();
        if let Some(obs) = view.observation.as_ref().filter(|o| view.role == Some(Role::Slave) && o.role == Role::Slave)
        {
            if let Some(lag) = obs.slave_lag_bytes {
                let labels = [obs.cluster.as_str(), obs.registered_addr.as_str(), obs.broker_name.as_str()];
                self.commitlog_diff.with_label_values(&labels).set(lag as f64);
            }
        }
        if let Some(reload) = reload {
            for (outcome, total) in reload.outcome_counts() {
                sync(&self.reload_outcomes.with_label_values(&[outcome.label()]), total);
            }
            self.restart_required.set(reload.restart_required_params() as i64);
            sync(&self.reload_set_aside, reload.set_aside_total());
        }
        let cache = broker.map(BrokerMetrics::view).unwrap_or_default();
        if let Some(t) = cache.last_ok {
            self.broker_refresh_ok.set(epoch_secs(t));
        }
        if let Some(d) = cache.last_duration {
            self.broker_refresh_seconds.set(d.as_secs_f64());
        }
        for (kind, total) in &cache.errors {
            sync(&self.broker_refresh_errors.with_label_values(&[kind]), *total);
        }
        let snapshot = cache.snapshot.as_deref();
        self.broker_series.set(snapshot.map_or(0, |s| s.series) as i64);
        self.broker_dropped.set(snapshot.map_or(0, |s| s.dropped) as i64);
        self.backlog.reset();
        if let (Some(b), Some(obs)) = (cache.backlog, view.observation.as_ref()) {
            self.backlog.with_label_values(&[obs.broker_name.as_str()]).set(b as i64);
        }

        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut page = String::from_utf8_lossy(&buf).into_owned();
        if let Some(s) = snapshot {
            page.push_str(&s.text);
        }
        page
    }
}

impl Default for AgentMetrics {
    fn default() -> Self {
        AgentMetrics::new()
    }
}
