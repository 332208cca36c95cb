use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::admin::BrokerAdmin;
use crate::http::{router, AppState, ENDPOINTS};
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
{ENDPOINTS}"
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
    /// Skip the name-server cross-check even when name servers are known
    #[arg(long, env = "ROCKETMQ_SIDECAR_NO_NAMESRV_CHECK")]
    pub no_namesrv_check: bool,
    /// Also answer on this address (e.g. 0.0.0.0:8999, the addon's agent port, so its
    /// broker-setup.sh can seed new shards from /topicInfo and /subscriptionGroupInfo unchanged)
    #[arg(long, env = "ROCKETMQ_SIDECAR_AGENT_LISTEN", value_name = "ADDR")]
    pub agent_listen: Option<SocketAddr>,
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

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let metrics = Arc::new(AgentMetrics::new());
    let opts = ClientOptions { observer: Some(metrics.request_observer()), ..args.connect.client_options()? };
    let probe = Arc::new(build_probe(&args.connect, args.no_namesrv_check, opts.clone())?);
    let broker = probe.broker_addr().to_string();
    let state = Arc::new(ProbeState::new(args.interval, broker.clone()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    tracing::info!(listen = %args.listen, broker = %broker, interval = ?args.interval, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let limit = args.connect.timeout.min(args.interval * 2);
    let mut poller_stop = stop_rx.clone();
    let poller = tokio::spawn(poller::run(probe, state.clone(), limit, Some(metrics.check_observer()), async move {
        let _ = poller_stop.wait_for(|s| *s).await;
    }));
    let reload_state = match &args.config_file {
        Some(file) => {
            let state = Arc::new(ReloadState::new(file.display().to_string()));
            let admin = BrokerAdmin::new(broker.clone(), opts.clone());
            let settings = ReloadSettings {
                file: file.clone(),
                interval: args.reload_interval,
                debounce: args.reload_debounce,
                max_backoff: Duration::from_secs(30),
            };
            let mut stop = stop_rx.clone();
            tracing::info!(file = %file.display(), interval = ?args.reload_interval, "config reloader on");
            tokio::spawn(reload::run(admin, settings, state.clone(), async move {
                let _ = stop.wait_for(|s| *s).await;
            }));
            Some(state)
        }
        None => None,
    };
    let agent_listener = match args.agent_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Usage(format!("cannot listen on {addr} (--agent-listen): {e}")))?,
        ),
        None => None,
    };
    let mut http_stop = stop_rx;
    let guard_admin = Arc::new(BrokerAdmin::new(broker.clone(), opts.clone()));
    let broker_metrics = (!args.no_broker_metrics).then(|| {
        let limits = Limits { max_series: args.metrics_max_series, ..Limits::default() };
        let cache = Arc::new(BrokerMetrics::new(args.metrics_interval, limits));
        // Its own connection: a slow metrics pass never queues in front of /scale-in answers.
        let admin = Arc::new(BrokerAdmin::new(broker.clone(), opts.clone()));
        let mut stop = http_stop.clone();
        tokio::spawn(metrics::run(admin, cache.clone(), async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
        cache
    });
    let app = AppState {
        probe: state,
        reload: reload_state,
        broker: Some((guard_admin, args.connect.timeout * 5)),
        metrics: Some((metrics, broker_metrics)),
    };
    if let Some(agent) = agent_listener {
        let mut stop = http_stop.clone();
        let app = router(app.clone());
        tracing::info!(listen = ?agent.local_addr().ok(), "also serving on the agent port");
        tokio::spawn(async move {
            let _ = axum::serve(agent, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
    }
    let server = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|s| *s).await;
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    server.await.map_err(CliError::Output)?;
    let _ = poller.await;
    Ok(())
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
