//! The admin layer's error: a remoting failure, an answer that cannot be decoded, a broker
//! still starting, or no name server to ask. `kind()` doubles as a metric label.

use crate::remoting::RemotingError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    #[error("cannot read {what} from {addr}: {reason}")]
    Decode { what: &'static str, addr: String, reason: String },
    #[error("broker {addr} is still starting (its runtime statistics are not sampled yet); retry in a second")]
    Starting { addr: String },
    #[error("no name server address given (use --namesrv HOST:PORT[;HOST:PORT] or NAMESRV_ADDR)")]
    NoNameServer,
    #[error("no name server answered: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    AllNameServersFailed(Vec<RemotingError>),
}

impl AdminError {
    /// A stable, low-cardinality label (metrics, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            AdminError::Remoting(e) => e.kind(),
            AdminError::Decode { .. } => "decode",
            AdminError::Starting { .. } => "starting",
            AdminError::NoNameServer => "config",
            AdminError::AllNameServersFailed(_) => "namesrv_unavailable",
        }
    }
}
