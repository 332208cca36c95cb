//! What the poller last learned, shared with the HTTP endpoints: the current role (or why it
//! is unknown), the last good check, counters, and the `/status` document.

use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Observation, Role, RoleError};

/// Checks older than this many intervals no longer count: the role becomes unknown even if the
/// poller itself is stuck.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// What the poller last learned, shared with the HTTP endpoints (which only read it).
pub struct ProbeState {
    interval: Duration,
    broker_addr: String,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
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

impl ProbeState {
    pub fn new(interval: Duration, broker_addr: impl Into<String>) -> ProbeState {
        ProbeState { interval, broker_addr: broker_addr.into(), inner: RwLock::new(Inner::default()) }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one check's outcome and says what it did to the reported role.
    pub fn record(&self, outcome: &Result<Observation, RoleError>) -> RoleEvent {
        let mut s = self.write();
        s.ready = true;
        s.checks += 1;
        let now = (Instant::now(), SystemTime::now());
        let new_role = match outcome {
            Ok(obs) => {
                s.latest_ok = true;
                s.last_ok = Some(now);
                s.observation = Some(obs.clone());
                Some(obs.role)
            }
            Err(e) => {
                s.latest_ok = false;
                s.failures += 1;
                s.last_error = Some((e.to_string(), e.kind(), now.1));
                None
            }
        };
        match s.reported.replace(new_role) {
            None => RoleEvent::Initial(new_role),
            Some(old) if old != new_role => {
                s.role_changes += 1;
                RoleEvent::Changed { from: old, to: new_role }
            }
            Some(_) => RoleEvent::Unchanged,
        }
    }

    /// Counters and the last success, for metrics.
    pub fn counters(&self) -> Counters {
        let s = self.read();
        Counters {
            checks: s.checks,
            failures: s.failures,
            role_changes: s.role_changes,
            last_ok: s.last_ok.map(|(_, t)| t),
        }
    }

    pub fn ready(&self) -> bool {
        self.read().ready
    }

    pub fn view(&self) -> View {
        let s = self.read();
        let stale_after = self.interval * STALE_AFTER_INTERVALS;
        let age = s.last_ok.map(|(at, _)| at.elapsed());
        let reason = if !s.ready {
            Some("no check has finished yet".to_string())
        } else if !s.latest_ok {
            s.last_error.as_ref().map(|(msg, _, _)| msg.clone())
        } else if age.is_none_or(|a| a > stale_after) {
            Some(format!(
                "last successful check is {:.1}s old (more than {STALE_AFTER_INTERVALS} intervals of {:?})",
                age.unwrap_or_default().as_secs_f64(),
                self.interval
            ))
        } else {
            None
        };
        let healthy = reason.is_none();
        View {
            role: if healthy { s.observation.as_ref().map(|o| o.role) } else { None },
            healthy,
            reason,
            observation: s.observation.clone(),
        }
    }

    /// The `/status` document. The top-level identity fields describe the latest check and are
    /// null while the role is unknown; `lastGood` is the last successful check, with its time, so
    /// nothing stale reads as current.
    pub fn status(&self) -> serde_json::Value {
        let view = self.view();
        let s = self.read();
        let current = view.observation.as_ref().filter(|_| view.healthy);
        let epoch_ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let mut doc = serde_json::json!({
            "schemaVersion": crate::JSON_SCHEMA_VERSION,
            "role": view.role.map(Role::as_str).unwrap_or("unknown"),
            "healthy": view.healthy,
            "reason": view.reason,
            "ready": s.ready,
            "brokerAddr": self.broker_addr,
            "lastSuccessfulCheckMs": s.last_ok.map(|(_, t)| epoch_ms(t)),
            "lastError": s.last_error.as_ref().map(|(msg, kind, at)| serde_json::json!({
                "message": msg, "kind": kind, "atMs": epoch_ms(*at)
            })),
            "intervalMs": self.interval.as_millis() as u64,
            "checks": s.checks,
            "failures": s.failures,
            "roleChanges": s.role_changes,
        });
        let fields = identity(current);
        for (k, v) in fields {
            doc[k] = v;
        }
        if let (Some(obs), Some((_, at))) = (view.observation.as_ref(), s.last_ok) {
            let mut last_good = serde_json::Map::new();
            last_good.insert("atMs".into(), epoch_ms(at).into());
            last_good.insert("role".into(), obs.role.as_str().into());
            last_good.extend(identity(Some(obs)).into_iter().map(|(k, v)| (k.to_string(), v)));
            doc["lastGood"] = serde_json::Value::Object(last_good);
        }
        doc
    }
}

/// What one check observed, as `/status` fields (all null without an observation).
fn identity(obs: Option<&Observation>) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        ("brokerName", json!(obs.map(|o| o.broker_name.as_str()))),
        ("brokerId", json!(obs.map(|o| o.broker_id))),
        ("cluster", json!(obs.map(|o| o.cluster.as_str()))),
        ("registeredAddr", json!(obs.map(|o| o.registered_addr.as_str()))),
        ("dledger", json!(obs.map(|o| o.dledger))),
        ("brokerVersion", json!(obs.and_then(|o| o.broker_version.as_deref()))),
        ("namesrvCheck", json!(obs.map(|o| &o.namesrv_check))),
        ("masterAddr", json!(obs.and_then(|o| o.master_addr.as_deref()))),
        ("commitLogMaxOffset", json!(obs.and_then(|o| o.commit_log_max_offset))),
        ("slaveLagBytes", json!(obs.and_then(|o| o.slave_lag_bytes))),
        ("slaveLagUnavailable", json!(obs.and_then(|o| o.slave_lag_unavailable.as_deref()))),
        ("slaveLagAgeMs", json!(obs.and_then(|o| o.slave_lag_age_ms))),
        ("controller", json!(obs.and_then(|o| o.controller.as_ref()))),
        ("dledgerTerm", json!(obs.and_then(|o| o.dledger_view.as_ref()).and_then(|d| d.term))),
        ("dledgerLeader", json!(obs.and_then(|o| o.dledger_view.as_ref()).and_then(|d| d.leader_id.as_deref()))),
    ]
}
