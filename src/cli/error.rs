use crate::admin::AdminError;
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
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Admin(_) | CliError::Role { .. } | CliError::Output(_) => 1,
        }
    }
}
