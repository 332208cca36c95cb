//! The desired configuration: a properties file or `key=value` pairs, fully validated.

use std::collections::BTreeMap;
use std::path::Path;

use crate::params::{check, Checked, Effect, JavaType};
use crate::properties;

use super::error::ReloadError;

/// Validated desired values (last duplicate wins, as in Java), plus what is ignored and why.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub values: BTreeMap<&'static str, Checked>,
    /// Keys 4.9.6 does not have (another version's, or the schema's typos), with the reason.
    pub ignored: Vec<(String, String)>,
    /// Keys given more than once (the last value is used).
    pub duplicates: Vec<String>,
}

impl Desired {
    /// Validates every pair; any invalid one rejects the whole set, and all errors are reported.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Desired, ReloadError> {
        let mut out = Desired::default();
        let mut errors = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (key, value) in pairs {
            if !seen.insert(key.clone()) && !out.duplicates.contains(&key) {
                out.duplicates.push(key.clone());
            }
            match check(&key, &value) {
                Err(e) => errors.push(e),
                Ok(None) => out.ignored.push((key, "not a 4.9.6 setting (another RocketMQ version's key)".into())),
                Ok(Some(c)) if c.param.java == JavaType::JNone || c.param.effect == Effect::Absent => {
                    out.ignored.push((key, c.param.note.to_string()))
                }
                Ok(Some(c)) => {
                    out.values.insert(c.param.name, c);
                }
            }
        }
        out.ignored.sort();
        out.ignored.dedup();
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(ReloadError::Invalid(errors))
        }
    }

    /// Reads and validates a broker config file.
    pub fn from_file(path: &Path) -> Result<Desired, ReloadError> {
        Desired::from_pairs(read_pairs(path)?)
    }
}

/// A broker config file's pairs as the broker would read them (`Properties.load`), in file
/// order, duplicates included, not validated yet.
pub fn read_pairs(path: &Path) -> Result<Vec<(String, String)>, ReloadError> {
    let bytes = std::fs::read(path).map_err(|source| ReloadError::ReadFile { path: path.to_path_buf(), source })?;
    let entries =
        properties::load(&bytes).map_err(|source| ReloadError::Syntax { path: path.to_path_buf(), source })?;
    Ok(entries.into_iter().map(|e| (e.key, e.value)).collect())
}
