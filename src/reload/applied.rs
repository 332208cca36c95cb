//! Is the watched file live on the broker? Read-only: it waits (polling) for the reloader to
//! apply a fresh file instead of changing anything itself, for a reconfigure action that must not
//! finish before the change took effect (`GET /config/applied`).

use std::path::Path;
use std::time::Duration;

use crate::admin::BrokerAdmin;

use super::desired::Desired;
use super::error::ReloadError;
use super::plan::Plan;
use crate::params::Release;

/// How often the broker is asked again while waiting.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub enum Applied {
    /// Every live-safe value of the file is live; this many need a restart.
    Live { restart_required: usize },
    /// Not live within the wait: `key=value` of what is still pending.
    Pending(Vec<String>),
    /// The file itself is invalid (nothing would be applied).
    Invalid(ReloadError),
    /// The file or the broker could not be read.
    Unknown(String),
}

/// Compares the file with the broker until every sendable value is live or `wait` has passed;
/// each broker read is bounded by `limit`.
pub async fn wait_applied(admin: &BrokerAdmin, file: &Path, wait: Duration, limit: Duration) -> Applied {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let desired = match Desired::from_file_off_runtime(file).await {
            Ok(d) => d,
            Err(ReloadError::Internal(why)) => {
                return Applied::Unknown(format!("reading the config file failed: {why}"))
            }
            Err(e) => return Applied::Invalid(e),
        };
        let live = match tokio::time::timeout(limit, admin.config()).await {
            Ok(Ok(config)) => config,
            Ok(Err(e)) => return Applied::Unknown(format!("cannot read the broker config: {e}")),
            Err(_) => return Applied::Unknown(format!("the broker did not answer within {limit:?}")),
        };
        let desired = match desired.for_release(Release::for_broker(admin.version())) {
            Ok(d) => d,
            Err(e) => return Applied::Invalid(e),
        };
        let plan = Plan::compute(&desired, &live);
        if plan.send.is_empty() {
            return Applied::Live { restart_required: plan.restart_required.len() };
        }
        if tokio::time::Instant::now() >= deadline {
            return Applied::Pending(plan.send.iter().map(|c| format!("{}={}", c.key, c.to)).collect());
        }
        tokio::time::sleep(POLL).await;
    }
}
