//! Frame and remoting errors. Each names the peer and says what to check; `kind()` is a stable
//! label for metrics and exit codes.

use std::time::Duration;

use super::tls::TlsFailure;

/// Why bytes could not be turned into a command (or a command into bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit (raise --max-frame if the peer is trusted)")]
    TooLarge { len: u64, max: usize },
    #[error("frame length {len} is too small to hold a header")]
    TooShort { len: u64 },
    #[error("header length {header_len} does not fit in a frame of {frame_len} bytes")]
    HeaderLength { header_len: usize, frame_len: usize },
    #[error("unknown serialize type {0} (expected 0 = JSON or 1 = ROCKETMQ)")]
    SerializeType(u8),
    #[error("malformed {kind} header: {reason}")]
    Header { kind: &'static str, reason: String },
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// Said when a plaintext connection closes before its first answer: what an enforcing TLS peer does.
pub const PLAINTEXT_REFUSED_HINT: &str = ", before any answer on it: a broker or name server with \
     tls.server.mode=enforcing closes plaintext connections this way; if it runs TLS, turn TLS on \
     (--tls on with --tls-ca FILE, or --tls-config /etc/rocketmq/tls.properties)";

/// Everything that can go wrong talking to one broker or name server.
/// Each variant names the peer and says what to check; [`RemotingError::kind`] is a short
/// stable label for metrics and exit-code decisions.
#[derive(Debug, thiserror::Error)]
pub enum RemotingError {
    #[error("cannot connect to {addr}: {source} (is the broker/name server running and the address right?)")]
    Connect { addr: String, source: std::io::Error },
    #[error("connecting to {addr} timed out after {after:?} (host down, or a firewall dropping packets)")]
    ConnectTimeout { addr: String, after: Duration },
    #[error("{addr} did not answer {request} within {after:?} (peer hung, overloaded, or not a RocketMQ port)")]
    Timeout { addr: String, request: &'static str, after: Duration },
    #[error("connection to {addr} closed before {request} was answered{hint}")]
    Closed { addr: String, request: &'static str, hint: &'static str },
    #[error("TLS handshake with {addr} failed: {detail} ({})", failure.advice())]
    Tls { addr: String, failure: TlsFailure, detail: String },
    #[error("the TLS settings cannot be used: {0}")]
    TlsConfig(#[from] super::tls::TlsConfigError),
    #[error("protocol error from {addr}: {reason} (is this a RocketMQ 4.x remoting port?)")]
    Protocol { addr: String, reason: String },
    #[error(
        "{addr} answered {request} with a {len}-byte frame, which exceeds the {max}-byte limit: raise --max-frame \
         above {len} if the peer is a trusted RocketMQ broker (is this a RocketMQ remoting port?)"
    )]
    TooLarge { addr: String, request: &'static str, len: u64, max: usize },
    #[error("{addr} answered {request} with code {code} ({code_name}): {remark}")]
    Refused { addr: String, request: &'static str, code: i32, code_name: &'static str, remark: String },
    #[error("{addr} refused {request} by ACL (code {code} {code_name}): {remark} ({})", acl.hint())]
    AclDenied { addr: String, request: &'static str, code: i32, code_name: &'static str, remark: String, acl: AclModel },
    #[error("sending {request} to {addr} failed: {source}")]
    Write { addr: String, request: &'static str, source: std::io::Error },
}

/// Which ACL refused: the answer's shape tells (4.9.x and 5.0–5.2 AclException text, or 5.3+
/// NO_PERMISSION from the authentication / authorization pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclModel {
    /// ACL 1.0: `aclEnable` and `conf/plain_acl.yml` accounts.
    V1,
    /// ACL 2.0 (5.3+): `authenticationEnabled` / `authorizationEnabled`, users and ACL rules
    /// kept by the broker (mqadmin createUser / createAcl).
    V2,
}

impl AclModel {
    fn hint(self) -> &'static str {
        match self {
            AclModel::V1 => "check the access key, secret key and the broker's plain_acl.yml",
            AclModel::V2 => {
                "ACL 2.0: check that the access key and secret key are the username and password of a user \
                 on this broker (mqadmin getUser), and that its ACL rules allow the request (mqadmin listAcl)"
            }
        }
    }
}

impl RemotingError {
    /// A stable, low-cardinality label (for metrics and logs).
    pub fn kind(&self) -> &'static str {
        match self {
            RemotingError::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused => {
                "connect_refused"
            }
            RemotingError::Connect { .. } => "connect",
            RemotingError::ConnectTimeout { .. } => "connect_timeout",
            RemotingError::Timeout { .. } => "timeout",
            RemotingError::Closed { .. } => "closed",
            RemotingError::Tls { failure, .. } => failure.kind(),
            RemotingError::TlsConfig(_) => "tls_config",
            RemotingError::Protocol { .. } => "protocol",
            RemotingError::TooLarge { .. } => "frame_too_large",
            RemotingError::Refused { .. } => "refused",
            RemotingError::AclDenied { .. } => "acl_denied",
            RemotingError::Write { .. } => "write",
        }
    }

    /// True when the peer answered and said no (as opposed to not answering at all).
    pub fn is_refusal(&self) -> bool {
        matches!(self, RemotingError::Refused { .. } | RemotingError::AclDenied { .. })
    }
}
