//! Why the guard cannot tell whether the shard is safe to remove (always "not safe").

use crate::admin::AdminError;

/// Why the guard cannot tell whether the shard is empty. Always "not safe".
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("cannot tell whether broker {broker} holds unconsumed messages: {source}")]
    Broker { broker: String, source: AdminError },
    #[error("cannot find the master of shard {shard}: {reason}")]
    NoMaster { shard: String, reason: String },
    #[error(
        "broker {broker} is not a master (brokerId {id}); run the check against the shard's master or pass --shard"
    )]
    NotMaster { broker: String, id: String },
    #[error("the check did not finish within {0:?}")]
    Timeout(std::time::Duration),
    /// The broker answered, but something that decides the answer could not be known.
    #[error("cannot tell whether the shard is safe to remove: {0}")]
    Unknown(String),
}

impl GuardError {
    /// The broker is not its shard's master (or its config has no usable brokerId).
    pub fn not_master(broker: String, config: &crate::admin::BrokerConfig) -> GuardError {
        let id = config.get("brokerId").cloned().unwrap_or_else(|| "missing".into());
        GuardError::NotMaster { broker, id }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            GuardError::Broker { source, .. } => source.kind(),
            GuardError::NoMaster { .. } => "no_master",
            GuardError::NotMaster { .. } => "not_master",
            GuardError::Timeout(_) => "timeout",
            GuardError::Unknown(_) => "unknown",
        }
    }
}
