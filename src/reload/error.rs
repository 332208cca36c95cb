use std::path::PathBuf;

use crate::admin::AdminError;
use crate::params::ParamError;
use crate::properties::LoadError;

/// Why a desired configuration was not (fully) applied. Whatever the variant, the broker
/// holds either all of the change or none of it.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot read {}: {source}", path.display())]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("{} is not a valid properties file: {source}", path.display())]
    Syntax { path: PathBuf, source: LoadError },
    #[error("{} rejected, nothing sent: {}", if .0.len() == 1 { "change" } else { "whole change" }, .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ParamError>),
    #[error("broker refused or failed the update, nothing applied: {0}")]
    Broker(#[source] AdminError),
    #[error("update sent but the config could not be read back to verify it (will re-check): {0}")]
    Unverified(#[source] AdminError),
    #[error("the broker did not take {}; {}", .missed.join(", "), if *.rolled_back { "the other values of the change were rolled back" } else { "ROLLBACK FAILED: the broker holds part of the change" })]
    NotTaken { missed: Vec<String>, rolled_back: bool },
}

impl ReloadError {
    /// A stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ReloadError::ReadFile { .. } => "read_file",
            ReloadError::Syntax { .. } | ReloadError::Invalid(_) => "invalid",
            ReloadError::Broker(_) => "broker",
            ReloadError::Unverified(_) => "unverified",
            ReloadError::NotTaken { .. } => "not_taken",
        }
    }

    /// Invalid input (the user's to fix) as opposed to a broker-side failure (worth retrying).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, ReloadError::Syntax { .. } | ReloadError::Invalid(_))
    }
}
