//! Why seeding failed: a peer could not be fetched from, answered something that is not a seed
//! file, or the file could not be written. Nothing partial is ever left behind.

use std::path::PathBuf;
use std::time::Duration;

/// One GET from a peer sidecar.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("bad URL: {0}")]
    Url(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("HTTP {status}: {reason}")]
    Status { status: u16, reason: String },
    #[error("reading the answer failed: {0}")]
    Body(String),
    #[error("not a valid seed file: {0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot create {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("no peer gave a valid {file}: {}", tried.iter().map(|(url, e)| format!("{url}: {e}")).collect::<Vec<_>>().join("; "))]
    NoPeer { file: &'static str, tried: Vec<(String, FetchError)> },
}
