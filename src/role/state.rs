//! What the poller last learned, shared with the HTTP endpoints as immutable snapshots: the
//! current role (or why it is unknown), the last good check, counters, and the `/status`
//! document. The transitions are pure functions of (snapshot, check outcome, instant), tested
//! on tokio's paused clock below.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use serde::Serialize;

use crate::admin::ReplicaInfo;

use super::{NamesrvCheck, Observation, Role, RoleError};

/// Checks older than this many intervals no longer count: the role becomes unknown even if the
/// poller itself is stuck.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// What the poller last learned, as one immutable [`Snapshot`] the poller replaces whole after
/// each check. Readers (the endpoints, the metrics) take the current snapshot and compute from
/// it; nothing but the poller writes, and nothing patches a snapshot in place.
pub struct ProbeState {
    interval: Duration,
    broker_addr: String,
    current: RwLock<Arc<Snapshot>>,
}

/// The poller's knowledge after some number of checks. Plain data: [`Snapshot::after`] (one
/// more check) and [`Snapshot::view`] (the role at an instant) are pure functions of it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Latched once the first check has finished, whatever its outcome.
    ready: bool,
    latest_ok: bool,
    last_ok: Option<(Instant, SystemTime)>,
    observation: Option<Observation>,
    last_error: Option<(String, &'static str, SystemTime)>,
    /// The role as last reported (inner None = unknown; outer None = nothing reported yet).
    reported: Option<Option<Role>>,
    role_changes: u64,
    checks: u64,
    failures: u64,
}

/// The state as the endpoints see it at one instant.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    /// None = unknown (latest check failed, or the last success is stale).
    pub role: Option<Role>,
    /// The broker answered the latest check, and that check is fresh.
    pub healthy: bool,
    /// Why the role is unknown / the broker unhealthy.
    pub reason: Option<String>,
    pub observation: Option<Observation>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub checks: u64,
    pub failures: u64,
    pub role_changes: u64,
    pub last_ok: Option<SystemTime>,
}

/// What a check did to the reported role (None meaning unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleEvent {
    /// The first check's result: logged, not counted as a change.
    Initial(Option<Role>),
    Changed {
        from: Option<Role>,
        to: Option<Role>,
    },
    Unchanged,
}

impl Snapshot {
    /// The snapshot after one more check, finished at `now`, and what it did to the reported role.
    pub fn after(&self, outcome: &Result<Observation, RoleError>, now: (Instant, SystemTime)) -> (Snapshot, RoleEvent) {
        let mut next = self.clone();
        next.ready = true;
        next.checks += 1;
        let new_role = match outcome {
            Ok(obs) => {
                next.latest_ok = true;
                next.last_ok = Some(now);
                next.observation = Some(obs.clone());
                Some(obs.role)
            }
            Err(e) => {
                next.latest_ok = false;
                next.failures += 1;
                next.last_error = Some((e.to_string(), e.kind(), now.1));
                None
            }
        };
        let event = match next.reported.replace(new_role) {
            None => RoleEvent::Initial(new_role),
            Some(old) if old != new_role => {
                next.role_changes += 1;
                RoleEvent::Changed { from: old, to: new_role }
            }
            Some(_) => RoleEvent::Unchanged,
        };
        (next, event)
    }

    /// The role at `now`: unknown before the first check, after a failed one, and once the last
    /// success is older than [`STALE_AFTER_INTERVALS`] intervals (a stuck poller included).
    pub fn view(&self, interval: Duration, now: Instant) -> View {
        let stale_after = interval * STALE_AFTER_INTERVALS;
        let age = self.last_ok.map(|(at, _)| now.saturating_duration_since(at));
        let reason = if !self.ready {
            Some("no check has finished yet".to_string())
        } else if !self.latest_ok {
            self.last_error.as_ref().map(|(msg, _, _)| msg.clone())
        } else if age.is_none_or(|a| a > stale_after) {
            Some(format!(
                "last successful check is {:.1}s old (more than {STALE_AFTER_INTERVALS} intervals of {interval:?})",
                age.unwrap_or_default().as_secs_f64(),
            ))
        } else {
            None
        };
        let healthy = reason.is_none();
        View {
            role: if healthy { self.observation.as_ref().map(|o| o.role) } else { None },
            healthy,
            reason,
            observation: self.observation.clone(),
        }
    }

    pub fn counters(&self) -> Counters {
        Counters {
            checks: self.checks,
            failures: self.failures,
            role_changes: self.role_changes,
            last_ok: self.last_ok.map(|(_, t)| t),
        }
    }

    pub fn ready(&self) -> bool {
        self.ready
    }
}

impl ProbeState {
    pub fn new(interval: Duration, broker_addr: impl Into<String>) -> ProbeState {
        ProbeState { interval, broker_addr: broker_addr.into(), current: RwLock::default() }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The current snapshot (a reference count taken under a lock held for no longer than that).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records one check's outcome (the poller, the only writer) and says what it did to the
    /// reported role.
    pub fn record(&self, outcome: &Result<Observation, RoleError>) -> RoleEvent {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let (next, event) = current.after(outcome, (Instant::now(), SystemTime::now()));
        *current = Arc::new(next);
        event
    }

    /// Counters and the last success, for metrics.
    pub fn counters(&self) -> Counters {
        self.snapshot().counters()
    }

    pub fn ready(&self) -> bool {
        self.snapshot().ready
    }

    pub fn view(&self) -> View {
        self.snapshot().view(self.interval, Instant::now())
    }

    /// The `/status` document, from one snapshot. The top-level identity fields describe the
    /// latest check and are null while the role is unknown; `lastGood` is the last successful
    /// check, with its time, so nothing stale reads as current.
    pub fn status(&self) -> Status {
        let s = self.snapshot();
        let view = s.view(self.interval, Instant::now());
        let current = view.observation.as_ref().filter(|_| view.healthy);
        Status {
            schema_version: crate::JSON_SCHEMA_VERSION,
            role: view.role.map(Role::as_str).unwrap_or("unknown"),
            healthy: view.healthy,
            reason: view.reason.clone(),
            ready: s.ready,
            broker_addr: self.broker_addr.clone(),
            last_successful_check_ms: s.last_ok.map(|(_, t)| epoch_ms(t)),
            last_error: s.last_error.as_ref().map(|(message, kind, at)| LastError {
                message: message.clone(),
                kind,
                at_ms: epoch_ms(*at),
            }),
            interval_ms: u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
            checks: s.checks,
            failures: s.failures,
            role_changes: s.role_changes,
            identity: Identity::of(current),
            last_good: match (view.observation.as_ref(), s.last_ok) {
                (Some(obs), Some((_, at))) => {
                    Some(LastGood { at_ms: epoch_ms(at), role: obs.role.as_str(), identity: Identity::of(Some(obs)) })
                }
                _ => None,
            },
            reload: None,
        }
    }
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// `GET /status` (docs/json.md, "GET /status").
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub schema_version: u32,
    pub role: &'static str,
    pub healthy: bool,
    pub reason: Option<String>,
    pub ready: bool,
    pub broker_addr: String,
    pub last_successful_check_ms: Option<u64>,
    pub last_error: Option<LastError>,
    pub interval_ms: u64,
    pub checks: u64,
    pub failures: u64,
    pub role_changes: u64,
    #[serde(flatten)]
    pub identity: Identity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good: Option<LastGood>,
    /// The config reloader's state, with --config-file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload: Option<crate::reload::ReloadStatus>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    pub message: String,
    pub kind: &'static str,
    pub at_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastGood {
    pub at_ms: u64,
    pub role: &'static str,
    #[serde(flatten)]
    pub identity: Identity,
}

/// What one check observed, as `/status` fields (all null without an observation).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub broker_name: Option<String>,
    pub broker_id: Option<u64>,
    pub cluster: Option<String>,
    pub registered_addr: Option<String>,
    pub dledger: Option<bool>,
    pub broker_version: Option<String>,
    pub namesrv_check: Option<NamesrvCheck>,
    pub master_addr: Option<String>,
    pub commit_log_max_offset: Option<u64>,
    pub slave_lag_bytes: Option<u64>,
    pub slave_lag_unavailable: Option<String>,
    pub slave_lag_age_ms: Option<u64>,
    pub controller: Option<ReplicaInfo>,
    pub dledger_term: Option<i64>,
    pub dledger_leader: Option<String>,
}

impl Identity {
    fn of(obs: Option<&Observation>) -> Identity {
        let dledger = obs.and_then(|o| o.dledger_view.as_ref());
        Identity {
            broker_name: obs.map(|o| o.broker_name.clone()),
            broker_id: obs.map(|o| o.broker_id),
            cluster: obs.map(|o| o.cluster.clone()),
            registered_addr: obs.map(|o| o.registered_addr.clone()),
            dledger: obs.map(|o| o.dledger),
            broker_version: obs.and_then(|o| o.broker_version.clone()),
            namesrv_check: obs.map(|o| o.namesrv_check.clone()),
            master_addr: obs.and_then(|o| o.master_addr.clone()),
            commit_log_max_offset: obs.and_then(|o| o.commit_log_max_offset),
            slave_lag_bytes: obs.and_then(|o| o.slave_lag_bytes),
            slave_lag_unavailable: obs.and_then(|o| o.slave_lag_unavailable.clone()),
            slave_lag_age_ms: obs.and_then(|o| o.slave_lag_age_ms),
            controller: obs.and_then(|o| o.controller.clone()),
            dledger_term: dledger.and_then(|d| d.term),
            dledger_leader: dledger.and_then(|d| d.leader_id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const INTERVAL: Duration = Duration::from_secs(1);

    fn master() -> Result<Observation, RoleError> {
        Ok(Observation::for_test(Role::Master, 0, "10.0.0.1:10911"))
    }

    fn slave() -> Result<Observation, RoleError> {
        Ok(Observation::for_test(Role::Slave, 1, "10.0.0.2:10911"))
    }

    fn failed() -> Result<Observation, RoleError> {
        Err(RoleError::BadConfig { key: "brokerRole", value: "?".into() })
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_known_or_ready_before_the_first_check() {
        let state = ProbeState::new(INTERVAL, "b:1");
        let view = state.view();
        assert_eq!((view.role, view.healthy, state.ready()), (None, false, false));
        assert_eq!(view.reason.as_deref(), Some("no check has finished yet"));
        assert_eq!(state.status().role, "unknown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_is_the_role_for_three_intervals_then_unknown_even_if_the_poller_is_stuck() {
        let state = ProbeState::new(INTERVAL, "b:1");
        assert_eq!(state.record(&master()), RoleEvent::Initial(Some(Role::Master)));
        assert_eq!(state.view().role, Some(Role::Master));
        tokio::time::advance(INTERVAL * STALE_AFTER_INTERVALS).await;
        assert_eq!(state.view().role, Some(Role::Master), "exactly three intervals old still counts");
        tokio::time::advance(Duration::from_millis(1)).await;
        let view = state.view();
        assert_eq!((view.role, view.healthy), (None, false), "never a stale master");
        assert!(view.reason.unwrap().contains("3.0s old"));
        // The status agrees: no current identity, the last good check kept apart with its time.
        let status = state.status();
        assert_eq!((status.role, status.identity.broker_name), ("unknown", None));
        assert_eq!(status.last_good.map(|g| g.role), Some("master"));
        // The next success is the role again at once.
        assert_eq!(state.record(&master()), RoleEvent::Unchanged);
        assert_eq!(state.view().role, Some(Role::Master));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_check_is_unknown_at_once_and_every_change_is_counted() {
        let state = ProbeState::new(INTERVAL, "b:1");
        state.record(&master());
        let changed = |from, to| RoleEvent::Changed { from, to };
        assert_eq!(state.record(&failed()), changed(Some(Role::Master), None));
        let view = state.view();
        assert_eq!(view.role, None);
        assert!(view.reason.unwrap().contains("brokerRole"));
        assert_eq!(state.record(&slave()), changed(None, Some(Role::Slave)));
        assert_eq!(state.record(&slave()), RoleEvent::Unchanged);
        let c = state.counters();
        assert_eq!((c.checks, c.failures, c.role_changes), (4, 1, 2));
        let status = state.status();
        assert_eq!((status.checks, status.failures, status.role_changes), (4, 1, 2));
        assert_eq!(status.last_error.map(|e| e.kind), Some("bad_config"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_keeps_the_snapshot_it_took_while_the_poller_moves_on() {
        let state = ProbeState::new(INTERVAL, "b:1");
        state.record(&master());
        let taken = state.snapshot();
        state.record(&failed());
        state.record(&slave());
        let now = Instant::now();
        assert_eq!(taken.view(INTERVAL, now).role, Some(Role::Master), "a snapshot never changes under its reader");
        assert_eq!(taken.counters().checks, 1);
        assert_eq!(state.view().role, Some(Role::Slave));
    }
}
