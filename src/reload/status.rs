//! What the reloader did last, for `/status`, logs and counters. Log lines are written only when
//! something changes, so a steady state (or a steadily rejected file) does not flood the log.

use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{json, Value};

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

#[derive(Debug, Default)]
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
    inner: Mutex<Inner>,
}

impl ReloadState {
    pub fn new(file: impl Into<String>) -> ReloadState {
        ReloadState { file: file.into(), inner: Mutex::new(Inner::default()) }
    }

    /// The watched file.
    pub fn file(&self) -> &str {
        &self.file
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record_plan(&self, plan: &Plan, sent: bool) -> Outcome {
        let outcome = if sent {
            Outcome::Applied
        } else if plan.restart_required.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::RestartRequired
        };
        let mut s = self.lock();
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
        self.finish(&mut s, outcome, detail)
    }

    /// Notes the values of `plan` the broker did not take, for this version of the file.
    pub fn set_aside(&self, fingerprint: u64, plan: &Plan, missed: &[String]) {
        let changes: Vec<Change> = plan.send.iter().filter(|c| missed.iter().any(|m| m == c.key)).cloned().collect();
        let keys: Vec<&str> = changes.iter().map(|c| c.key).collect();
        tracing::warn!(file = %self.file, keys = %keys.join(","), "the broker did not take these values; set aside until the file changes");
        let mut s = self.lock();
        s.set_aside_total += changes.len() as u64;
        s.set_aside = Some((fingerprint, changes));
    }

    /// `desired` without the values set aside for this version of the file; a changed file
    /// clears them (it may fix them).
    pub fn without_set_aside(&self, mut desired: super::Desired) -> super::Desired {
        let mut s = self.lock();
        match &s.set_aside {
            Some((fingerprint, changes)) if *fingerprint == desired.fingerprint => {
                for c in changes {
                    if desired.values.remove(c.key).is_some() {
                        desired.ignored.push((c.key.to_string(), "set aside: the broker did not take it".into()));
                    }
                }
            }
            Some(_) => s.set_aside = None,
            None => {}
        }
        desired
    }

    /// Values set aside in all (metrics).
    pub fn set_aside_total(&self) -> u64 {
        self.lock().set_aside_total
    }

    pub fn record_error(&self, e: &ReloadError) -> Outcome {
        let outcome = if e.is_invalid_input() { Outcome::Rejected } else { Outcome::Error };
        let mut s = self.lock();
        let text = e.to_string();
        let repeated = matches!(&s.last, Some((o, _, t)) if *o == outcome && *t == text);
        if !repeated {
            tracing::warn!(file = %self.file, kind = e.kind(), error = %text, "config not applied");
        }
        self.finish(&mut s, outcome, text)
    }

    fn finish(&self, s: &mut Inner, outcome: Outcome, detail: String) -> Outcome {
        s.counts[outcome as usize] += 1;
        s.last = Some((outcome, SystemTime::now(), detail));
        outcome
    }

    /// How often each outcome happened (every check counts, `unchanged` included).
    pub fn outcome_counts(&self) -> [(Outcome, u64); 5] {
        let s = self.lock();
        Outcome::ALL.map(|o| (o, s.counts[o as usize]))
    }

    /// Parameters whose desired value needs a broker restart: not sendable live, or stored
    /// live but read only at startup.
    pub fn restart_required_params(&self) -> usize {
        let s = self.lock();
        let keys: std::collections::BTreeSet<&str> =
            s.restart_required.iter().chain(&s.pending_restart).map(|c| c.key).collect();
        keys.len()
    }

    pub fn status(&self) -> Value {
        let s = self.lock();
        let ms = |t: &SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let counts: serde_json::Map<String, Value> =
            Outcome::ALL.iter().map(|o| (o.label().to_string(), json!(s.counts[*o as usize]))).collect();
        json!({
            "file": self.file,
            "lastOutcome": s.last.as_ref().map(|(o, _, _)| o.label()),
            "lastCheckMs": s.last.as_ref().map(|(_, t, _)| ms(t)),
            "lastDetail": s.last.as_ref().map(|(_, _, d)| d.clone()).filter(|d| !d.is_empty()),
            "restartRequired": s.restart_required,
            "storedPendingRestart": s.pending_restart,
            "lastApplied": s.last_applied,
            "lastAppliedMs": s.last_applied_at.as_ref().map(ms),
            // Every applied outcome is exactly one verified update request.
            "updatesSent": s.counts[Outcome::Applied as usize],
            "setAside": s.set_aside.as_ref().map(|(_, c)| c.clone()).unwrap_or_default(),
            "setAsideTotal": s.set_aside_total,
            "ignored": s.ignored.iter().map(|(k, why)| json!({"key": k, "why": why})).collect::<Vec<_>>(),
            "outcomes": counts,
        })
    }
}
