//! The sidecar's HTTP endpoints. Those on the main and agent listeners are read-only; the one that
//! changes the broker (`POST /pre-terminate`) is served only on a loopback listener of its own, so
//! only what runs inside the pod (kbagent) can reach it. The probe endpoints (`/role`, `/live`, `/ready`,
//! `/status`, ...) answer from the jobs' snapshots (never a broker round trip) on the HTTP runtime's
//! own thread, so they stay fast whatever the broker, the workers or other callers do. The routes
//! with work run on the workers ([`layers::on_workers`]): `/scale-in` asks the scanner task and waits
//! for its shared answer; the other broker-asking endpoints are bounded by tower layers (a time
//! limit, and a small cap on those in flight: 503 "busy" beyond it).

mod layers;
mod server;
mod tls;

pub use server::{serve, serve_apart, ServerLimits};
pub use tls::ListenTls;

use std::sync::Arc;

use axum::extract::{FromRef, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use crate::admin::{BrokerAdmin, NamesrvAdmin};
use crate::guard::{
    failure_summary, is_scaling_in, shard_master, stop_writes_and_check, summary, GuardError, Policy, Scan, Scanner,
    Verdict,
};
use crate::metrics::{AgentMetrics, BrokerMetrics};
use crate::reload::{Applied, ReloadState};
use crate::role::{ProbeState, Role};
use crate::seed::{snapshot, SeedFile};

/// What the handlers read: the role poller's state and, when the reloader runs, its state.
#[derive(Clone)]
pub struct AppState {
    pub probe: Arc<ProbeState>,
    pub reload: Option<Arc<ReloadState>>,
    /// The broker asked by `/scale-in`, `/topicInfo` and `/subscriptionGroupInfo`, and the time
    /// limit of one such answer.
    pub broker: Option<(Arc<BrokerAdmin>, std::time::Duration)>,
    /// The agent's metrics and, unless turned off, the broker metrics cache.
    pub metrics: Option<(Arc<AgentMetrics>, Option<Arc<BrokerMetrics>>)>,
    /// `/scale-in`: the scanning task (one scan at a time; a caller gets one begun after it
    /// asked, shared with the callers that asked before it began); None without a broker.
    pub scale_in: Option<Scanner>,
    /// The other broker-asking endpoints in flight at once.
    pub expensive: Arc<tokio::sync::Semaphore>,
    /// The runtime that does the work: broker requests, scans, metrics pages. The HTTP server may
    /// run on a runtime of its own; the endpoints with work hand it here.
    pub workers: tokio::runtime::Handle,
}

/// Broker-asking requests (other than `/scale-in`) in flight at once.
pub const EXPENSIVE_IN_FLIGHT: usize = 4;

impl FromRef<AppState> for Arc<ProbeState> {
    fn from_ref(app: &AppState) -> Arc<ProbeState> {
        app.probe.clone()
    }
}

/// Endpoint summary, shown by `serve --help` and on unknown paths.
pub const ENDPOINTS: &str = "\
GET /role       the role as text (master | slave); 503 \"unknown: <reason>\" when it cannot be told;
                ?version=true: `<role> <version>` for KubeBlocks >= 1.2 (the DLedger term or the
                controller's master epoch; the role alone for a plain master/slave shard)
GET /status     JSON: role, brokerName, brokerId, cluster, broker address, last successful check,
                last error, slave lag in bytes, counters; `reload`: the config reloader's last
                outcome, restart-required parameters and counters (with --config-file)
GET /primary    200 only for a healthy master, else 503 with the reason (alias /master)
GET /replica    200 only for a healthy slave (alias /slave); ?lag=BYTES: 503 if further behind
GET /health     200 while the broker answers (fresh check), else 503
GET /scale-in   the scale-in guard's verdict as JSON, from a scan begun after the call (one scan
                at a time, at most one a second, each bounded by --timeout x 5):
                200 safe, 409 unconsumed messages or writes not stopped for 35 s (with the
                table), 503 cannot tell;
                ?allowSlave=true: a slave is safe to remove (200), for memberLeave
GET /config/applied[?wait=SECONDS]   200 once every live-safe value of --config-file is live on the
                broker (waits up to `wait`, at most 25 s, for the reloader); else 409 naming the
                pending values, 422 for an invalid file, 503 if the broker cannot be asked
GET /topicInfo  the broker's topics in its own config/topics.json format (for seeding a new shard;
                ?all=true keeps system and per-shard topics); 503 with the reason if the broker
                cannot be asked
GET /subscriptionGroupInfo   the same for config/subscriptionGroup.json
GET /metrics    Prometheus text: the agent's rocketmq_sidecar_* metrics and the broker's under
                rocketmq-exporter's names (from a cache refreshed every --metrics-interval)
GET /live       200 while the agent runs (a broker outage never fails it)
GET /ready      200 once the first check has finished (then stays 200)";

/// The loopback-only listener's endpoint, shown by `serve --help`.
pub const LOCAL_ENDPOINTS: &str = "\
POST /pre-terminate   KubeBlocks' preTerminate action (HTTP variant), body
                {\"scalingIn\": \"$KB_CLUSTER_COMPONENT_IS_SCALING_IN\", \"component\": \"$MY_CLUSTER_COMP_NAME\"}:
                not a shard scale-in: 200, the broker untouched; else the shard's write permission
                goes (never restored) and one check: 200 removable, 409 unconsumed messages or
                writes not stopped, 503 cannot tell; the body is one line naming the backlog";

/// What the loopback listener's handler needs: the local broker, the name servers (to find the
/// shard's master when this broker is a slave), how to reach another broker, a time limit, and
/// one step at a time (KubeBlocks calls again; overlapping steps would only repeat each other).
#[derive(Clone)]
pub struct LocalState {
    pub broker: Arc<BrokerAdmin>,
    pub namesrv: Option<Arc<NamesrvAdmin>>,
    pub connect: Arc<dyn Fn(&str) -> BrokerAdmin + Send + Sync>,
    pub limit: std::time::Duration,
    pub one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

/// The loopback listener's routes.
pub fn local_router(state: LocalState) -> Router {
    Router::new()
        .route("/pre-terminate", post(pre_terminate))
        .route("/live", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, format!("not found; endpoints:\n{LOCAL_ENDPOINTS}\n")) })
        .with_state(state)
}

/// kbagent renders the HTTP action's body from its parameters; a variable KubeBlocks did not set
/// arrives empty.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PreTerminateBody {
    scaling_in: Option<String>,
    component: Option<String>,
}

async fn pre_terminate(State(local): State<LocalState>, body: axum::body::Bytes) -> Response {
    let body: PreTerminateBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("the body is not the preTerminate JSON: {e}\n")),
    };
    if !is_scaling_in(body.scaling_in.as_deref()) {
        tracing::info!("preTerminate outside a shard scale-in (the whole cluster is being deleted): broker untouched");
        return text(
            StatusCode::OK,
            "not a shard scale-in: the whole cluster is being deleted; nothing checked, the broker untouched\n".into(),
        );
    }
    let component = body.component.as_deref();
    let _turn = local.one_at_a_time.lock().await;
    let step = async {
        let master = shard_master(local.broker.clone(), local.namesrv.as_deref(), |a| (local.connect)(a)).await?;
        stop_writes_and_check(master, &Policy::default()).await
    };
    let outcome = tokio::time::timeout(local.limit, step).await.unwrap_or(Err(GuardError::Timeout(local.limit)));
    match outcome {
        Ok(backlog) => text(verdict_status(backlog.verdict), format!("{}\n", summary(&backlog, component))),
        Err(e) => unavailable(failure_summary(&e, component)),
    }
}

pub fn router(state: AppState) -> Router {
    let limit = state.broker.as_ref().map_or(std::time::Duration::from_secs(25), |(_, limit)| *limit);
    // The seed documents are one read each: bounded by one broker answer's limit.
    let seeds = Router::new()
        .route("/topicInfo", get(|app, q| seed_file(app, q, SeedFile::Topics)))
        .route("/subscriptionGroupInfo", get(|app, q| seed_file(app, q, SeedFile::Groups)))
        .route_layer(layers::timeout(limit));
    // Requests that ask the broker on the caller's behalf: a few at once, the rest shed at once.
    let broker_asking = Router::new()
        .route("/config/applied", get(config_applied))
        .merge(seeds)
        .route_layer(layers::few_at_once(state.expensive.clone()));
    let work = Router::new()
        .merge(broker_asking)
        .route("/scale-in", get(scale_in))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(state.workers.clone(), layers::on_workers));
    // The probes answer from memory, on whichever runtime serves the connection.
    Router::new()
        .merge(work)
        .route("/role", get(role))
        .route("/status", get(status))
        .route("/primary", get(primary))
        .route("/master", get(primary))
        .route("/replica", get(replica))
        .route("/slave", get(replica))
        .route("/health", get(health))
        .route("/live", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .fallback(|| async { (StatusCode::NOT_FOUND, format!("not found; endpoints:\n{ENDPOINTS}\n")) })
        .with_state(state)
}

fn text(code: StatusCode, body: String) -> Response {
    (code, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn unavailable(reason: String) -> Response {
    text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n"))
}

#[derive(Deserialize)]
struct RoleQuery {
    /// `<role> <version>` for KubeBlocks >= 1.2 (see `Observation::role_version`).
    version: Option<bool>,
}

async fn role(State(state): State<Arc<ProbeState>>, Query(q): Query<RoleQuery>) -> Response {
    let view = state.view();
    let Some(role) = view.role else {
        return unavailable(format!("unknown: {}", view.reason.unwrap_or_default()));
    };
    if !q.version.unwrap_or(false) {
        return text(StatusCode::OK, format!("{role}\n"));
    }
    match view.observation.as_ref().map(|o| o.role_version()) {
        Some(Ok(Some(v))) => text(StatusCode::OK, format!("{role} {v}\n")),
        Some(Ok(None)) => text(StatusCode::OK, format!("{role}\n")),
        Some(Err(why)) => unavailable(format!("unknown: the role's version cannot be told: {why}")),
        None => unavailable("unknown: no check has finished".into()),
    }
}

async fn status(State(app): State<AppState>) -> Response {
    let mut status = app.probe.status();
    status.reload = app.reload.as_ref().map(|r| r.status());
    axum::Json(status).into_response()
}

#[derive(Deserialize)]
struct ScaleInQuery {
    #[serde(rename = "allowSlave")]
    allow_slave: Option<bool>,
}

async fn scale_in(State(app): State<AppState>, Query(q): Query<ScaleInQuery>) -> Response {
    let (Some((_, limit)), Some(scanner)) = (&app.broker, &app.scale_in) else {
        return unavailable("scale-in check not configured".into());
    };
    // Waits at most two scans' bounds: the end of one under way (begun before this call, so not
    // its answer), then the one begun after it.
    let Some(scan) = scanner.get(*limit * 2).await else {
        let e = GuardError::Timeout(*limit * 2);
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(cannot_tell_body(e.to_string(), e.kind())))
            .into_response();
    };
    match scan {
        Scan::Done(b) => (verdict_status(b.verdict), axum::Json(b)).into_response(),
        Scan::NotMaster { broker, id } if q.allow_slave.unwrap_or(false) => {
            let reason = format!("{broker} is a slave (brokerId={id}); its messages are copies of its master's");
            let body =
                SlaveVerdict { schema_version: crate::JSON_SCHEMA_VERSION, verdict: Verdict::Safe, safe: true, reason };
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Scan::NotMaster { broker, id } => {
            let e = GuardError::NotMaster { broker, id };
            let body = cannot_tell_body(e.to_string(), e.kind());
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
        Scan::Failed { error, kind } => {
            let body = cannot_tell_body(error, kind);
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// A guard verdict as an HTTP status: 200 safe, 409 unsafe, 503 cannot tell.
fn verdict_status(verdict: Verdict) -> StatusCode {
    match verdict {
        Verdict::Safe => StatusCode::OK,
        Verdict::Unsafe => StatusCode::CONFLICT,
        Verdict::CannotTell => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// `/scale-in?allowSlave=true` on a slave (docs/json.md).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SlaveVerdict {
    schema_version: u32,
    verdict: Verdict,
    safe: bool,
    reason: String,
}

/// `/scale-in`'s answer when the scan itself failed (docs/json.md).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ScanFailed<'a> {
    schema_version: u32,
    verdict: Verdict,
    safe: bool,
    error: String,
    kind: &'a str,
}

fn cannot_tell_body(error: String, kind: &str) -> ScanFailed<'_> {
    ScanFailed { schema_version: crate::JSON_SCHEMA_VERSION, verdict: Verdict::CannotTell, safe: false, error, kind }
}

#[derive(Deserialize)]
struct SeedQuery {
    all: Option<bool>,
}

async fn seed_file(State(app): State<AppState>, Query(q): Query<SeedQuery>, file: SeedFile) -> Response {
    let Some((admin, _)) = app.broker.clone() else {
        return unavailable("broker not configured".into());
    };
    match snapshot(&admin, file, q.all.unwrap_or(false)).await {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(e) => unavailable(format!("cannot read {} from the broker: {e}", file.file_name())),
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
    let Some((agent, broker)) = &app.metrics else {
        return unavailable("metrics not configured".into());
    };
    let (own, broker) = agent.render_parts(&app.probe, app.reload.as_deref(), broker.as_deref());
    let page = axum::body::Body::new(Chunks([Some(own.into()), Some(broker)]));
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], page).into_response()
}

/// A body sent as its chunks, in order, without joining them: `/metrics` sends the broker's part
/// as the cache holds it.
struct Chunks<const N: usize>([Option<axum::body::Bytes>; N]);

impl<const N: usize> hyper::body::Body for Chunks<N> {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let next = self.0.iter_mut().find_map(|c| c.take().filter(|c| !c.is_empty()));
        std::task::Poll::Ready(next.map(|chunk| Ok(hyper::body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0.iter().flatten().map(|c| c.len() as u64).sum())
    }
}

#[derive(Deserialize)]
struct AppliedQuery {
    /// Seconds to wait for the file to become live (at most 25).
    wait: Option<u64>,
}

/// Read-only: is every live-safe value of the watched config file live on the broker? Waits
/// (polling) for the reloader to apply a fresh file instead of changing anything itself; for a
/// reconfigure action that must not finish before the change took effect.
async fn config_applied(State(app): State<AppState>, Query(q): Query<AppliedQuery>) -> Response {
    let (Some((admin, limit)), Some(reload)) = (app.broker.clone(), app.reload.clone()) else {
        return unavailable("no --config-file: nothing is applied by this sidecar".into());
    };
    let wait = std::time::Duration::from_secs(q.wait.unwrap_or(0).min(25));
    let file = std::path::PathBuf::from(reload.file());
    match crate::reload::wait_applied(&admin, &file, wait, limit).await {
        Applied::Live { restart_required } => {
            text(StatusCode::OK, format!("{} is live ({restart_required} value(s) need a restart)\n", reload.file()))
        }
        Applied::Pending(values) => text(StatusCode::CONFLICT, format!("not live yet: {}\n", values.join(" "))),
        Applied::Invalid(e) => text(StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")),
        Applied::Unknown(why) => unavailable(why),
    }
}

async fn health(State(state): State<Arc<ProbeState>>) -> Response {
    let view = state.view();
    match view.reason {
        None => text(StatusCode::OK, "ok\n".into()),
        Some(reason) => unavailable(format!("broker unhealthy: {reason}")),
    }
}

async fn ready(State(state): State<Arc<ProbeState>>) -> Response {
    if state.ready() {
        text(StatusCode::OK, "ready\n".into())
    } else {
        unavailable("not ready: the first check has not finished".into())
    }
}

/// The view when the broker is healthy and in `want`; otherwise why not (for a 503).
fn role_gate(state: &ProbeState, want: Role) -> Result<crate::role::View, String> {
    let view = state.view();
    match view.role {
        Some(r) if r == want => Ok(view),
        Some(r) => Err(format!("not a {want}: this broker is {r}")),
        None => Err(format!("unknown: {}", view.reason.clone().unwrap_or_default())),
    }
}

async fn primary(State(state): State<Arc<ProbeState>>) -> Response {
    match role_gate(&state, Role::Master) {
        Ok(_) => text(StatusCode::OK, "master\n".into()),
        Err(reason) => unavailable(reason),
    }
}

#[derive(Deserialize)]
struct LagQuery {
    lag: Option<u64>,
}

async fn replica(State(state): State<Arc<ProbeState>>, Query(q): Query<LagQuery>) -> Response {
    let view = match role_gate(&state, Role::Slave) {
        Ok(v) => v,
        Err(reason) => return unavailable(reason),
    };
    let Some(max) = q.lag else {
        return text(StatusCode::OK, "slave\n".into());
    };
    let obs = view.observation;
    match obs.as_ref().and_then(|o| o.slave_lag_bytes) {
        Some(lag) if lag <= max => text(StatusCode::OK, format!("slave, {lag} bytes behind\n")),
        Some(lag) => unavailable(format!("slave is {lag} bytes behind its master (limit {max})")),
        None => {
            let why = obs.and_then(|o| o.slave_lag_unavailable).unwrap_or_else(|| "master not registered".into());
            unavailable(format!("slave lag unknown: {why}"))
        }
    }
}
