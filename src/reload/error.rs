//! Why a desired configuration was not applied: bad input (nothing sent), a broker failure, or
//! a value the broker did not take (rolled back).

use std::path::PathBuf;

use crate::admin::AdminError;
use crate::params::ParamError;
use crate::properties::LoadError;

/// Why a desired configuration was not (fully) applied. Whatever the variant, the broker
/// holds either all of the change or none of it.
/// Largest broker config file read (the addon's full broker.conf is about 6 KB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot read {}: {source}", path.display())]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("{} is not a valid properties file: {source}", path.display())]
    Syntax { path: PathBuf, source: LoadError },
    #[error("{} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit for a broker config file; nothing sent", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("conflicting values for the same key, nothing sent (which one is meant?): {}", first_few(.0))]
    Conflicting(Vec<String>),
    #[error("{} rejected, nothing sent: {}", if .0.len() == 1 { "change" } else { "whole change" }, first_few(&.0.iter().map(|e| e.to_string()).collect::<Vec<_>>()))]
    Invalid(Vec<ParamError>),
    #[error("broker refused or failed the update, nothing applied: {0}")]
    Broker(#[source] AdminError),
    #[error("update sent but the config could not be read back to verify it (will re-check): {0}")]
    Unverified(#[source] AdminError),
    #[error("the broker did not take {}; {}", .missed.join(", "), if *.rolled_back { "the other values of the change were rolled back" } else { "ROLLBACK FAILED: the broker holds part of the change" })]
    NotTaken { missed: Vec<String>, rolled_back: bool },
    #[error("the reloader's file read did not finish: {0}")]
    Internal(String),
}

/// Error lists shown in full up to this many; a file with thousands of bad keys still gives a
/// readable one-line error.
const SHOWN: usize = 10;

fn first_few(items: &[String]) -> String {
    let mut text = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if items.len() > SHOWN {
        text += &format!("; and {} more", items.len() - SHOWN);
    }
    text
}

impl ReloadError {
    /// A stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ReloadError::ReadFile { .. } => "read_file",
            ReloadError::Syntax { .. }
            | ReloadError::Invalid(_)
            | ReloadError::TooLarge { .. }
            | ReloadError::Conflicting(_) => "invalid",
            ReloadError::Broker(_) => "broker",
            ReloadError::Unverified(_) => "unverified",
            ReloadError::NotTaken { .. } => "not_taken",
            ReloadError::Internal(_) => "internal",
        }
    }

    /// Invalid input (the user's to fix) as opposed to a broker-side failure (worth retrying).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            ReloadError::Syntax { .. }
                | ReloadError::Invalid(_)
                | ReloadError::TooLarge { .. }
                | ReloadError::Conflicting(_)
        )
    }
}
