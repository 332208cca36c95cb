//! The admin layer's error: a remoting failure, an answer that cannot be decoded, a broker
//! still starting, or no name server or controller to ask. `kind()` doubles as a metric label.

use crate::remoting::RemotingError;

/// Why a broker or name-server answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not JSON (fastjson-tolerant parsing included).
    #[error("not JSON: {0}")]
    Json(String),
    /// JSON, or an answer, of an unexpected shape.
    #[error("{0}")]
    Shape(String),
}

impl From<crate::remoting::json::JsonError> for DecodeError {
    fn from(e: crate::remoting::json::JsonError) -> Self {
        DecodeError::Json(e.to_string())
    }
}

impl From<String> for DecodeError {
    fn from(reason: String) -> Self {
        DecodeError::Shape(reason)
    }
}

impl From<&str> for DecodeError {
    fn from(reason: &str) -> Self {
        DecodeError::Shape(reason.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Remoting(#[from] RemotingError),
    /// A whole table (topics, groups) larger than one frame, from a broker that does not page it.
    #[error(
        "the {what} do not fit in one frame, and this broker does not serve them in pages (RocketMQ 5.3.4+ \
         does): {source}"
    )]
    TableTooLarge { what: &'static str, source: Box<RemotingError> },
    #[error("cannot read {what} from {addr}: {reason}")]
    Decode { what: &'static str, addr: String, reason: DecodeError },
    #[error("broker {addr} is still starting (its runtime statistics are not sampled yet); retry in a second")]
    Starting { addr: String },
    #[error("no name server address given (use --namesrv HOST:PORT[;HOST:PORT] or ROCKETMQ_SIDECAR_NAMESRV)")]
    NoNameServer,
    #[error("no name server answered: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    AllNameServersFailed(Vec<RemotingError>),
    #[error("the broker is in controller mode but names no controller (controllerAddr is empty)")]
    NoController,
    #[error("no controller answered: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    AllControllersFailed(Vec<RemotingError>),
}

impl AdminError {
    /// A stable, low-cardinality label (metrics, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            AdminError::Remoting(e) => e.kind(),
            AdminError::TableTooLarge { .. } => "frame_too_large",
            AdminError::Decode { .. } => "decode",
            AdminError::Starting { .. } => "starting",
            AdminError::NoNameServer => "config",
            AdminError::AllNameServersFailed(_) => "namesrv_unavailable",
            AdminError::NoController => "config",
            AdminError::AllControllersFailed(_) => "controller_unavailable",
        }
    }
}
