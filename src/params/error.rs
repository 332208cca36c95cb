//! Why a parameter or value is refused (unknown key with the closest known one, wrong type,
//! out of range, bad format).

/// Why a parameter or value was refused before anything reached the broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter `{key}`{}", suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey { key: String, suggestion: Option<&'static str> },
    #[error("invalid value {value:?} for `{key}`: {reason}")]
    BadValue { key: String, value: String, reason: String },
}

impl ParamError {
    pub fn key(&self) -> &str {
        match self {
            ParamError::UnknownKey { key, .. } | ParamError::BadValue { key, .. } => key,
        }
    }
}
