//! Graceful drain: take the shard's write permission away so producers route elsewhere, wait
//! for consumers to catch up, and never leave the shard half-drained silently.
//!
//! Write permission goes through the broker's `brokerPermission` (4 = read-only): 4.9.6 pushes
//! the new permission to every name server at once when that key is updated, and the same
//! update with the old value restores it, so an aborted drain can always be undone.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::admin::BrokerAdmin;

use super::backlog::{compute, Backlog, Policy};
use super::error::GuardError;

pub const READ_ONLY: &str = "4";

#[derive(Debug, Clone)]
pub struct DrainSettings {
    pub policy: Policy,
    pub timeout: Duration,
    pub progress_every: Duration,
}

#[derive(Debug)]
pub enum DrainOutcome {
    /// Backlog reached 0; the shard stays read-only (it is about to be removed).
    Drained { previous_permission: String, took: Duration },
    /// Timeout or interruption: write permission restored (or the restore failed, with why).
    Aborted { reason: String, remaining: Option<u64>, restored: Result<String, String> },
}

/// Runs the drain; `progress` receives each backlog; `interrupted` ends it early (Ctrl-C).
pub async fn drain(
    admin: Arc<BrokerAdmin>,
    settings: &DrainSettings,
    mut progress: impl FnMut(&Backlog, Duration),
    interrupted: impl Future<Output = ()>,
) -> Result<DrainOutcome, GuardError> {
    let broker = admin.addr().to_string();
    let err = |source| GuardError::Broker { broker: broker.clone(), source };
    let config = admin.config().await.map_err(err)?;
    if let Some(id) = config.get("brokerId").filter(|id| id.as_str() != "0") {
        return Err(GuardError::NotMaster { broker, id: id.clone() });
    }
    let previous = config.get("brokerPermission").cloned().unwrap_or_else(|| "6".into());
    // A refusal here (e.g. a non-admin ACL key) changes nothing: report it and stop.
    set_permission(&admin, READ_ONLY).await.map_err(err)?;

    let started = Instant::now();
    tokio::pin!(interrupted);
    let mut remaining = None;
    let abort_reason = loop {
        let step = tokio::select! {
            biased;
            _ = &mut interrupted => break "interrupted".to_string(),
            _ = tokio::time::sleep(settings.timeout.saturating_sub(started.elapsed())) => {
                break format!("timed out after {:?}", settings.timeout)
            }
            step = compute(admin.clone(), &settings.policy) => step,
        };
        match step {
            Ok(backlog) => {
                progress(&backlog, started.elapsed());
                remaining = Some(backlog.blocking_messages);
                if backlog.safe {
                    return Ok(DrainOutcome::Drained { previous_permission: previous, took: started.elapsed() });
                }
            }
            Err(e) => break format!("backlog check failed: {e}"),
        }
        tokio::select! {
            biased;
            _ = &mut interrupted => break "interrupted".to_string(),
            _ = tokio::time::sleep(settings.progress_every) => {}
        }
        // Checked here, not left to the select above: a zero sleep is not ready on its first
        // poll, so without this one more backlog check would start after the deadline.
        if started.elapsed() >= settings.timeout {
            break format!("timed out after {:?}", settings.timeout);
        }
    };
    let restored = match set_permission(&admin, &previous).await {
        Ok(()) => Ok(previous),
        Err(e) => Err(format!(
            "{e}; restore it with: rocketmq-sidecar reconfigure --broker {broker} brokerPermission {previous}"
        )),
    };
    Ok(DrainOutcome::Aborted { reason: abort_reason, remaining, restored })
}

/// Sets brokerPermission and verifies it by reading back.
async fn set_permission(admin: &BrokerAdmin, perm: &str) -> Result<(), crate::admin::AdminError> {
    let pairs: BTreeMap<String, String> = [("brokerPermission".to_string(), perm.to_string())].into();
    admin.update_config(&pairs).await?;
    let now = admin.config().await?;
    match now.get("brokerPermission") {
        Some(p) if p == perm => Ok(()),
        other => Err(crate::admin::AdminError::Decode {
            what: "brokerPermission after update",
            addr: admin.addr().to_string(),
            reason: format!("expected {perm}, broker says {other:?}"),
        }),
    }
}
