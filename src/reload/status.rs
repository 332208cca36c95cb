//! What the reloader did last, for `/status`, logs and counters, as immutable snapshots: the
//! reload loop (the only writer) builds the next snapshot from a copy of the current one and
//! publishes it whole; readers take the current one. Log lines are written only when something
//! changes, so a steady state (or a steadily rejected file) does not flood the log.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde::Serialize;

use super::error::ReloadError;
use super::plan::{Change, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Unchanged,
    RestartRequired,
    Rejected,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 5] =
        [Outcome::Applied, Outcome::Unchanged, Outcome::RestartRequired, Outcome::Rejected, Outcome::Error];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::RestartRequired => "restart_required",
            Outcome::Rejected => "rejected",
            Outcome::Error => "error",
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Inner {
    last: Option<(Outcome, SystemTime, String)>,
    restart_required: Vec<Change>,
    pending_restart: Vec<Change>,
    last_applied: Vec<Change>,
    last_applied_at: Option<SystemTime>,
    counts: [u64; 5],
    /// Values the broker did not take, per file version (fingerprint): not sent again until the
    /// file changes.
    set_aside: Option<(u64, Vec<Change>)>,
    set_aside_total: u64,
    /// Keys of the file not sent, and why (another version's, guard-owned, set aside).
    ignored: Vec<(String, String)>,
}

/// Shared between the reload loop (writer) and the HTTP handlers (readers).
#[derive(Debug)]
pub struct ReloadState {
    file: String,
    current: RwLock<Arc<Inner>>,
}

/// The reloader's part of `GET /status` (docs/json.md, `reload`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadStatus {
    pub file: String,
    pub last_outcome: Option<&'static str>,
    pub last_check_ms: Option<u64>,
    pub last_detail: Option<String>,
    pub restart_required: Vec<Change>,
    pub stored_pending_restart: Vec<Change>,
    pub last_applied: Vec<Change>,
    pub last_applied_ms: Option<u64>,
    /// Every applied outcome is exactly one verified update request.
    pub updates_sent: u64,
    pub set_aside: Vec<Change>,
    pub set_aside_total: u64,
    pub ignored: Vec<Ignored>,
    pub outcomes: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ignored {
    pub key: String,
    pub why: String,
}

impl ReloadState {
    pub fn new(file: impl Into<String>) -> ReloadState {
        ReloadState { file: file.into(), current: RwLock::default() }
    }

    /// The watched file.
    pub fn file(&self) -> &str {
        &self.file
    }

    fn snapshot(&self) -> Arc<Inner> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Builds the next snapshot from a copy of the current one and publishes it whole.
    fn update<R>(&self, change: impl FnOnce(&mut Inner) -> R) -> R {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut next = Inner::clone(&current);
        let result = change(&mut next);
        *current = Arc::new(next);
        result
    }

    pub fn record_plan(&self, plan: &Plan, sent: bool) -> Outcome {
        let outcome = if sent {
            Outcome::Applied
        } else if plan.restart_required.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::RestartRequired
        };
        self.update(|s| self.record_plan_in(s, plan, sent, outcome))
    }

    fn record_plan_in(&self, s: &mut Inner, plan: &Plan, sent: bool, outcome: Outcome) -> Outcome {
        s.ignored = plan.ignored.clone();
        if sent {
            s.last_applied = plan.send.clone();
            s.last_applied_at = Some(SystemTime::now());
            let keys: Vec<String> = plan.send.iter().map(|c| format!("{}={}", c.key, c.to)).collect();
            tracing::info!(file = %self.file, count = keys.len(), values = %keys.join(" "), "applied and verified");
            let pending: Vec<Change> = plan.pending_restart().cloned().collect();
            if !pending.is_empty() {
                let keys: Vec<&str> = pending.iter().map(|c| c.key).collect();
                tracing::warn!(keys = %keys.join(","), "stored, but these take effect only after a broker restart");
                s.pending_restart = pending;
            }
        }
        if s.restart_required != plan.restart_required && !plan.restart_required.is_empty() {
            let keys: Vec<String> = plan.restart_required.iter().map(|c| format!("{} ({})", c.key, c.why)).collect();
            tracing::warn!(file = %self.file, keys = %keys.join("; "), "not applied live: restart required");
        }
        s.restart_required = plan.restart_required.clone();
        let detail = if sent { format!("{} value(s) applied", plan.send.len()) } else { String::new() };
        finish(s, outcome, detail)
    }

    /// Notes the values of `plan` the broker did not take, for this version of the file.
    pub fn set_aside(&self, fingerprint: u64, plan: &Plan, missed: &[String]) {
        let changes: Vec<Change> = plan.send.iter().filter(|c| missed.iter().any(|m| m == c.key)).cloned().collect();
        let keys: Vec<&str> = changes.iter().map(|c| c.key).collect();
        tracing::warn!(file = %self.file, keys = %keys.join(","), "the broker did not take these values; set aside until the file changes");
        self.update(|s| {
            s.set_aside_total += changes.len() as u64;
            s.set_aside = Some((fingerprint, changes));
        });
    }

    /// `desired` without the values set aside for this version of the file; a changed file
    /// clears them (it may fix them).
    pub fn without_set_aside(&self, mut desired: super::Desired) -> super::Desired {
        match &self.snapshot().set_aside {
            Some((fingerprint, changes)) if *fingerprint == desired.fingerprint => {
                for c in changes {
                    if desired.values.remove(c.key).is_some() {
                        desired.ignored.push((c.key.to_string(), "set aside: the broker did not take it".into()));
                    }
                }
            }
            Some(_) => self.update(|s| s.set_aside = None),
            None => {}
        }
        desired
    }

    /// Values set aside in all (metrics).
    pub fn set_aside_total(&self) -> u64 {
        self.snapshot().set_aside_total
    }

    pub fn record_error(&self, e: &ReloadError) -> Outcome {
        let outcome = if e.is_invalid_input() { Outcome::Rejected } else { Outcome::Error };
        let text = e.to_string();
        self.update(|s| {
            let repeated = matches!(&s.last, Some((o, _, t)) if *o == outcome && *t == text);
            if !repeated {
                tracing::warn!(file = %self.file, kind = e.kind(), error = %text, "config not applied");
            }
            finish(s, outcome, text)
        })
    }

    /// How often each outcome happened (every check counts, `unchanged` included).
    pub fn outcome_counts(&self) -> [(Outcome, u64); 5] {
        let s = self.snapshot();
        Outcome::ALL.map(|o| (o, s.counts[o as usize]))
    }

    /// Parameters whose desired value needs a broker restart: not sendable live, or stored
    /// live but read only at startup.
    pub fn restart_required_params(&self) -> usize {
        let s = self.snapshot();
        let keys: std::collections::BTreeSet<&str> =
            s.restart_required.iter().chain(&s.pending_restart).map(|c| c.key).collect();
        keys.len()
    }

    pub fn status(&self) -> ReloadStatus {
        let s = self.snapshot();
        let ms = |t: &SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        };
        ReloadStatus {
            file: self.file.clone(),
            last_outcome: s.last.as_ref().map(|(o, _, _)| o.label()),
            last_check_ms: s.last.as_ref().map(|(_, t, _)| ms(t)),
            last_detail: s.last.as_ref().map(|(_, _, d)| d.clone()).filter(|d| !d.is_empty()),
            restart_required: s.restart_required.clone(),
            stored_pending_restart: s.pending_restart.clone(),
            last_applied: s.last_applied.clone(),
            last_applied_ms: s.last_applied_at.as_ref().map(ms),
            updates_sent: s.counts[Outcome::Applied as usize],
            set_aside: s.set_aside.as_ref().map(|(_, c)| c.clone()).unwrap_or_default(),
            set_aside_total: s.set_aside_total,
            ignored: s.ignored.iter().map(|(key, why)| Ignored { key: key.clone(), why: why.clone() }).collect(),
            outcomes: Outcome::ALL.iter().map(|o| (o.label(), s.counts[*o as usize])).collect(),
        }
    }
}

fn finish(s: &mut Inner, outcome: Outcome, detail: String) -> Outcome {
    s.counts[outcome as usize] += 1;
    s.last = Some((outcome, SystemTime::now(), detail));
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::BrokerConfig;
    use crate::params::Release;
    use crate::reload::Desired;

    /// The plan for `file` (key=value pairs) against a 4.9.6 broker holding `live`.
    fn plan(file: &[(&str, &str)], live: &[(&str, &str)]) -> (Desired, Plan) {
        let pairs = file.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let desired = Desired::from_pairs(pairs).unwrap().for_release(Release::V4_9_6).unwrap();
        let live: BrokerConfig = live.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let plan = Plan::compute(&desired, &live);
        (desired, plan)
    }

    #[test]
    fn a_plan_sends_live_values_and_holds_back_what_needs_a_restart() {
        let file = [("maxMessageSize", "4194305"), ("flushDiskType", "SYNC_FLUSH")];
        let live = [("maxMessageSize", "4194304"), ("flushDiskType", "ASYNC_FLUSH")];
        let (_, plan) = plan(&file, &live);
        let keys = |c: &[Change]| c.iter().map(|c| c.key).collect::<Vec<_>>();
        assert_eq!(keys(&plan.send), ["maxMessageSize"]);
        assert_eq!(keys(&plan.restart_required), ["flushDiskType"], "hazardous: never sent live");
        let (_, same) = self::plan(&[("maxMessageSize", "4194304")], &[("maxMessageSize", "4194304")]);
        assert_eq!((same.send.len(), same.unchanged), (0, 1));
    }

    #[test]
    fn outcomes_are_counted_and_a_published_snapshot_never_changes_under_its_reader() {
        let state = ReloadState::new("broker.conf");
        let (_, p) = plan(&[("maxMessageSize", "4194305")], &[("maxMessageSize", "4194304")]);
        assert_eq!(state.record_plan(&p, true), Outcome::Applied);
        let before = state.status();
        let e = ReloadError::Conflicting(vec!["maxMessageSize".into()]);
        assert_eq!(state.record_error(&e), Outcome::Rejected);
        assert_eq!(state.record_error(&e), Outcome::Rejected);
        assert_eq!((before.last_outcome, before.updates_sent), (Some("applied"), 1));
        let after = state.status();
        assert_eq!(after.last_outcome, Some("rejected"));
        assert_eq!((after.outcomes["applied"], after.outcomes["rejected"], after.updates_sent), (1, 2, 1));
        assert_eq!(after.last_applied.len(), 1, "the last apply is kept through later rejections");
    }

    #[test]
    fn values_the_broker_did_not_take_are_set_aside_until_the_file_changes() {
        let state = ReloadState::new("broker.conf");
        let (mut desired, p) = plan(&[("maxMessageSize", "4194305")], &[("maxMessageSize", "4194304")]);
        desired.fingerprint = 7;
        state.set_aside(7, &p, &["maxMessageSize".to_string()]);
        let same_file = state.without_set_aside(desired.clone());
        assert!(same_file.values.is_empty(), "not sent again for the same file");
        assert_eq!(state.status().set_aside.len(), 1);
        desired.fingerprint = 8;
        let new_file = state.without_set_aside(desired);
        assert_eq!(new_file.values.len(), 1, "a changed file may fix it: tried again");
        assert!(state.status().set_aside.is_empty());
        assert_eq!(state.set_aside_total(), 1);
    }
}
