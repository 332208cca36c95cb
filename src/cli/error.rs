use crate::admin::AdminError;
use crate::guard::GuardError;
use crate::reload::ReloadError;
use crate::role::RoleError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags, env or files: nothing was sent.
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
    /// `seed` found no valid peer answer (nothing written).
    #[error("{0}")]
    Seed(String),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Reload(e) if e.is_invalid_input() => 2,
            CliError::Reload(_) => 1,
            CliError::RestartRequired(_) => 3,
            CliError::Guard(_) => 2,
            CliError::Unsafe(_) => 1,
            CliError::Seed(_) => 1,
            CliError::Admin(_) | CliError::Role { .. } | CliError::Output(_) => 1,
        }
    }
}
