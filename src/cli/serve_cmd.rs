//! `rocketmq-sidecar serve`: the role poller, the reloader and the metrics cache as supervised
//! background tasks, and the HTTP endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::admin::{BrokerAdmin, NamesrvAdmin};
use crate::guard::Scanner;
use crate::http::{
    local_router, router, serve, serve_apart, AppState, ListenTls, LocalState, ServerLimits, ENDPOINTS,
    EXPENSIVE_IN_FLIGHT, LOCAL_ENDPOINTS,
};
use crate::metrics::{self, AgentMetrics, BrokerMetrics, Limits};
use crate::reload::{self, ReloadSettings, ReloadState};
use crate::remoting::ClientOptions;
use crate::role::{poller, ProbeState};

use super::args::{parse_duration, ConnectArgs};
use super::error::CliError;
use super::role_cmd::build_probe;

pub const ABOUT: &str = "Run the sidecar: poll the broker's role and health, answer HTTP probes";

pub fn long_about() -> String {
    format!(
        "Run the sidecar: a background poller checks the broker's role and health every --interval,
and HTTP endpoints answer from that state (never by asking the broker), so they stay fast when
the broker hangs. A check older than 3 intervals counts as unknown. Role changes are logged once
(old -> new) and counted in /status. SIGTERM or SIGINT stops it gracefully.

With --config-file, it also keeps the broker's dynamic parameters equal to that file (e.g. the
KubeBlocks-mounted /kb-config/broker.conf): on every change of the file (ConfigMap symlink swaps,
rename-writes and re-creates included; bursts debounced) and every --reload-interval (drift, or a
broker restarted on an old config), it validates the whole file, sends the changed live-safe
values in one updateBrokerConfig and verifies them by reading back. An invalid value rejects the
whole file; static or hazardous parameters are reported as restart-required, never sent. The
outcome is in /status under `reload` and in the log.

Endpoints:
{ENDPOINTS}

On --local-listen (loopback only):
{LOCAL_ENDPOINTS}"
    )
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Address for the HTTP endpoints (9897 clashes with none of the addon's ports:
    /// broker 10911/10909/10912, JMX exporter 5556, agent 8999)
    #[arg(long, env = "ROCKETMQ_SIDECAR_LISTEN", default_value = "0.0.0.0:9897")]
    pub listen: SocketAddr,
    /// How often the broker is checked (each check is bounded by --timeout and by 2 intervals)
    #[arg(long, env = "ROCKETMQ_SIDECAR_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// The oldest a slave's lag sample may get. The lag needs both brokers' runtime info, which
    /// a 5.5.0 broker takes ~60 ms of CPU to build, so it is sampled only as often as keeps that
    /// under 0.25 % of the brokers' time (every check on 4.9.6, about every 26 s on 5.5.0), and
    /// at least this often
    #[arg(long, env = "ROCKETMQ_SIDECAR_LAG_MAX_AGE", default_value = "60s", value_parser = parse_duration)]
    pub lag_max_age: Duration,
    /// Skip the name-server cross-check even when name servers are known
    #[arg(long, env = "ROCKETMQ_SIDECAR_NO_NAMESRV_CHECK")]
    pub no_namesrv_check: bool,
    /// Serve --listen over HTTPS with this PEM certificate chain (e.g. for /metrics scraped across
    /// the network); re-read when it changes. Off by default: the in-pod probes use plain HTTP
    #[arg(long, env = "ROCKETMQ_SIDECAR_LISTEN_TLS_CERT", value_name = "FILE", requires = "listen_tls_key")]
    pub listen_tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --listen-tls-cert
    #[arg(long, env = "ROCKETMQ_SIDECAR_LISTEN_TLS_KEY", value_name = "FILE", requires = "listen_tls_cert")]
    pub listen_tls_key: Option<std::path::PathBuf>,
    /// Also answer on this address (e.g. 0.0.0.0:8999, the addon's agent port, so its
    /// broker-setup.sh can seed new shards from /topicInfo and /subscriptionGroupInfo unchanged)
    #[arg(long, env = "ROCKETMQ_SIDECAR_AGENT_LISTEN", value_name = "ADDR")]
    pub agent_listen: Option<SocketAddr>,
    /// Loopback-only address for the endpoint that changes the broker (POST /pre-terminate: the
    /// HTTP variant's preTerminate action, which takes a leaving shard's write permission away);
    /// off when not given. A non-loopback address is refused: only what runs in the pod may call it
    #[arg(long, env = "ROCKETMQ_SIDECAR_LOCAL_LISTEN", value_name = "ADDR")]
    pub local_listen: Option<SocketAddr>,
    /// Keep the broker's dynamic parameters equal to this properties file (off when not given)
    #[arg(long, env = "ROCKETMQ_SIDECAR_CONFIG_FILE", value_name = "FILE")]
    pub config_file: Option<std::path::PathBuf>,
    /// How often the file is re-checked against the broker even without a change (drift, restarts)
    #[arg(long, env = "ROCKETMQ_SIDECAR_RELOAD_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub reload_interval: Duration,
    /// Quiet time after the last file event before the file is read (bursts give one apply)
    #[arg(long, env = "ROCKETMQ_SIDECAR_RELOAD_DEBOUNCE", default_value = "200ms", value_parser = parse_duration)]
    pub reload_debounce: Duration,
    /// How often the broker metrics behind /metrics are refreshed (a scrape reads the last
    /// refresh and never waits on the broker); each refresh is bounded by this interval, at least 10s
    #[arg(long, env = "ROCKETMQ_SIDECAR_METRICS_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub metrics_interval: Duration,
    /// At most this many topics and this many group/topic pairs get their own broker series
    /// (the largest offsets and lags are kept; the rest are counted in
    /// rocketmq_sidecar_broker_metrics_dropped)
    #[arg(long, env = "ROCKETMQ_SIDECAR_METRICS_MAX_SERIES", default_value_t = 5000, value_name = "N")]
    pub metrics_max_series: usize,
    /// Serve only the agent's own metrics on /metrics (no broker refresh requests at all)
    #[arg(long, env = "ROCKETMQ_SIDECAR_NO_BROKER_METRICS")]
    pub no_broker_metrics: bool,
}

/// How long a stopping `serve` waits for its background tasks: the reloader may be between an
/// update and its verification (or rollback), which takes a few requests.
const STOP_BOUND: Duration = Duration::from_secs(10);

/// The background tasks of `serve`; on shutdown every one is awaited (within a bound), so none
/// is left running and the reloader never stops between an update and its verification.
struct Tasks {
    set: tokio::task::JoinSet<&'static str>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Tasks {
    /// Runs `task(stopped)`, where `stopped` resolves once shutdown begins.
    fn spawn<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut stop = self.stop.clone();
        let stopped = Box::pin(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        let fut = task(stopped);
        self.set.spawn(async move {
            fut.await;
            name
        });
    }

    async fn join(mut self) {
        let all = async {
            while let Some(done) = self.set.join_next().await {
                if let Ok(name) = done {
                    tracing::debug!(task = name, "stopped");
                }
            }
        };
        if tokio::time::timeout(STOP_BOUND, all).await.is_err() {
            tracing::warn!(after = ?STOP_BOUND, "background tasks did not stop in time; ending them");
        }
    }
}

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let metrics = Arc::new(AgentMetrics::new());
    let opts = ClientOptions { observer: Some(metrics.request_observer()), ..args.connect.client_options()? };
    let probe =
        Arc::new(build_probe(&args.connect, args.no_namesrv_check, opts.clone())?.with_lag_max_age(args.lag_max_age));
    let broker = probe.broker_addr().to_string();
    let state = Arc::new(ProbeState::new(args.interval, broker.clone()));
    let listener = bind(args.listen, "--listen").await?;
    let agent_listener = match args.agent_listen {
        Some(addr) => Some(bind(addr, "--agent-listen").await?),
        None => None,
    };
    let local_listener = match args.local_listen {
        Some(addr) if !addr.ip().is_loopback() => {
            return Err(CliError::Usage(format!(
                "--local-listen {addr} is not a loopback address: POST /pre-terminate changes the broker, so only \
                 what runs in the pod may reach it (use 127.0.0.1:PORT)"
            )))
        }
        Some(addr) => Some(bind(addr, "--local-listen").await?),
        None => None,
    };
    tracing::info!(listen = %args.listen, broker = %broker, interval = ?args.interval, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Tasks { set: tokio::task::JoinSet::new(), stop: stop_rx.clone() };
    let limit = args.connect.timeout.min(args.interval * 2);
    let observer = Some(metrics.check_observer());
    tasks.spawn("role poller", |stopped| poller::run(probe, state.clone(), limit, observer, stopped));
    let reload = start_reloader(&args, &broker, &opts, &mut tasks);
    let broker_metrics = start_broker_metrics(&args, &broker, &opts, &mut tasks);
    let (admin, limit) = (Arc::new(BrokerAdmin::new(broker.clone(), opts.clone())), args.connect.timeout * 5);
    let app = AppState {
        probe: state,
        reload,
        scale_in: Some(Scanner::for_broker(admin.clone(), limit)),
        broker: Some((admin, limit)),
        metrics: Some((metrics, broker_metrics)),
        expensive: Arc::new(tokio::sync::Semaphore::new(EXPENSIVE_IN_FLIGHT)),
        workers: tokio::runtime::Handle::current(),
    };
    let listen_tls = match (&args.listen_tls_cert, &args.listen_tls_key) {
        (Some(cert), Some(key)) => Some(ListenTls::new(cert.clone(), key.clone()).map_err(CliError::Usage)?),
        _ => None,
    };
    let mut servers = vec![(listener, router(app.clone()), listen_tls)];
    if let Some(agent) = agent_listener {
        tracing::info!(listen = ?agent.local_addr().ok(), "also serving on the agent port");
        servers.push((agent, router(app), None));
    }
    if let Some(local) = local_listener {
        tracing::info!(listen = ?local.local_addr().ok(), "serving POST /pre-terminate on loopback");
        let app = local_router(local_state(&args, &broker, &opts));
        let stop = stop_rx.clone();
        tasks.spawn("local port", move |_| serve(local, app, None, ServerLimits::default(), stop));
    }
    let stop_tx = Arc::new(stop_tx);
    let signalled = stop_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = signalled.send(true);
    });
    let http = serve_apart(servers, ServerLimits::default(), stop_rx.clone())
        .map_err(|e| CliError::Runtime(format!("cannot start the HTTP runtime: {e}")))?;
    // The HTTP thread lets requests in flight finish within ServerLimits::drain once stopped.
    let http_ended = tokio::task::spawn_blocking(move || http.join());
    tokio::pin!(http_ended);
    let mut stop = stop_rx.clone();
    // Without its endpoints the sidecar answers no probe: a thread that ends on its own (a bug)
    // stops everything, so the kubelet restarts the container instead of probing a mute one.
    // A stop asked for (a signal) also ends the thread, maybe before this task sees the stop:
    // only an end with no stop asked is a death.
    let (http_died, http_done) = tokio::select! {
        _ = stop.wait_for(|s| *s) => (false, false),
        _ = &mut http_ended => (!*stop_rx.borrow(), true),
    };
    if http_died {
        tracing::error!("the HTTP server stopped on its own; stopping the sidecar");
        let _ = stop_tx.send(true);
    }
    tasks.join().await;
    if http_died {
        return Err(CliError::Runtime("the HTTP server stopped on its own".into()));
    }
    if !http_done {
        let _ = http_ended.await;
    }
    Ok(())
}

async fn bind(addr: SocketAddr, flag: &str) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot listen on {addr} ({flag}): {e}")))
}

/// The loopback listener's state: its own broker connection (a preTerminate step never queues
/// behind a metrics pass), the name servers when known.
fn local_state(args: &ServeArgs, broker: &str, opts: &ClientOptions) -> LocalState {
    let namesrv = args.connect.namesrv_addrs().ok().and_then(|a| NamesrvAdmin::new(&a, opts.clone()).ok());
    let peer_opts = opts.clone();
    LocalState {
        broker: Arc::new(BrokerAdmin::new(broker, opts.clone())),
        namesrv: namesrv.map(Arc::new),
        connect: Arc::new(move |addr: &str| BrokerAdmin::new(addr, peer_opts.clone())),
        limit: args.connect.timeout * 5,
        one_at_a_time: Arc::default(),
    }
}

/// The config-file reloader, when --config-file is given.
fn start_reloader(args: &ServeArgs, broker: &str, opts: &ClientOptions, tasks: &mut Tasks) -> Option<Arc<ReloadState>> {
    let file = args.config_file.as_ref()?;
    let state = Arc::new(ReloadState::new(file.display().to_string()));
    let admin = BrokerAdmin::new(broker, opts.clone());
    let settings = ReloadSettings {
        file: file.clone(),
        interval: args.reload_interval,
        debounce: args.reload_debounce,
        max_backoff: Duration::from_secs(30),
    };
    tracing::info!(file = %file.display(), interval = ?args.reload_interval, "config reloader on");
    let reload_state = state.clone();
    tasks.spawn("config reloader", move |stopped| reload::run(admin, settings, reload_state, stopped));
    Some(state)
}

/// The broker metrics cache behind /metrics, unless --no-broker-metrics.
fn start_broker_metrics(
    args: &ServeArgs,
    broker: &str,
    opts: &ClientOptions,
    tasks: &mut Tasks,
) -> Option<Arc<BrokerMetrics>> {
    if args.no_broker_metrics {
        return None;
    }
    let limits = Limits { max_series: args.metrics_max_series, ..Limits::default() };
    let cache = Arc::new(BrokerMetrics::new(args.metrics_interval, limits));
    // Its own connection: a slow metrics pass never queues in front of /scale-in answers.
    let admin = Arc::new(BrokerAdmin::new(broker, opts.clone()));
    let refreshed = cache.clone();
    tasks.spawn("broker metrics", move |stopped| metrics::run(admin, refreshed, stopped));
    Some(cache)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
