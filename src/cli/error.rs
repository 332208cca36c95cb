//! The command line's error and its exit code (README: 0 ok, 1 failed or unsafe, 2 a bad
//! parameter value or cannot tell, 3 restart required, 64 bad command line).

use crate::admin::AdminError;
use crate::guard::GuardError;
use crate::reload::ReloadError;
use crate::role::RoleError;

/// A bad command line: a mistyped flag, a missing or malformed option or env var (BSD sysexits'
/// EX_USAGE). Kept apart from 2 so that a broken manifest never reads as the guard's "cannot tell".
pub const EXIT_USAGE: u8 = 64;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags, env or files named by them: nothing was sent (exit 64).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("cannot determine the role of broker {broker}: {source}")]
    Role { broker: String, source: RoleError },
    #[error(transparent)]
    Reload(#[from] ReloadError),
    /// Everything valid was handled, but some values need a broker restart (already reported).
    #[error("{0}")]
    RestartRequired(String),
    /// The scale-in guard cannot tell: always exit 2, never "safe".
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// The guard found unconsumed messages (exit 1).
    #[error("{0}")]
    Unsafe(String),
    /// The preTerminate step holds a shard's removal: unconsumed messages or writes not stopped
    /// (exit 1), or cannot tell (exit 2). The message is one line, for KubeBlocks' Warning event.
    #[error("{message}")]
    Removal { message: String, cannot_tell: bool },
    /// `seed` found no valid peer answer, or could not write (nothing partial written).
    #[error(transparent)]
    Seed(#[from] crate::seed::SeedError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// A local failure at run time (a port in use, a directory not writable): exit 1, never the
    /// "bad input, nothing sent" exit 2.
    #[error("{0}")]
    Runtime(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Reload(e) if e.is_invalid_input() => 2,
            CliError::Reload(_) => 1,
            CliError::RestartRequired(_) => 3,
            CliError::Guard(_) => 2,
            CliError::Unsafe(_) => 1,
            CliError::Removal { cannot_tell, .. } => {
                if *cannot_tell {
                    2
                } else {
                    1
                }
            }
            CliError::Seed(_) | CliError::Runtime(_) => 1,
            CliError::Admin(_) | CliError::Role { .. } | CliError::Output(_) => 1,
        }
    }
}
