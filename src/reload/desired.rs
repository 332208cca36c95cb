//! The desired configuration: a properties file or `key=value` pairs, fully validated.

use std::collections::BTreeMap;
use std::path::Path;

use crate::params::{check, check_in, Checked, Effect, JavaType, ParamError, Release};
use crate::properties;

use super::error::{ReloadError, MAX_FILE_BYTES};

/// Validation stops after this many invalid values (the change is rejected either way).
const MAX_ERRORS: usize = 50;

/// Validated desired values, plus what is ignored and why. A key given twice with different
/// values is rejected: Java would silently take the last one, but a generated file that says
/// two things is a bug to surface, not to guess at.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub values: BTreeMap<&'static str, Checked>,
    /// Keys 4.9.6 does not have (another version's, or the schema's typos), with the reason.
    pub ignored: Vec<(String, String)>,
    /// Keys given more than once with the same value (harmless; reported).
    pub duplicates: Vec<String>,
    /// A hash of the file's bytes (0 when not from a file): tells the reloader when it changed.
    pub fingerprint: u64,
    /// The release the values were checked against; None: every release we know (the broker
    /// not asked yet).
    pub release: Option<Release>,
}

/// Keys a config file never sets on the broker: `brokerPermission` belongs to the scale-in
/// guard. `scale-in drain` makes the shard read-only; a mounted broker.conf that says 6 must not
/// give producers the shard back in the middle of a drain.
pub const GUARD_OWNED: &[&str] = &["brokerPermission"];

const GUARD_OWNED_WHY: &str = "owned by the scale-in guard (`scale-in drain`); a config file never changes it \
     (set it explicitly with `rocketmq-sidecar reconfigure brokerPermission N`)";

impl Desired {
    /// Validates every pair against every release we know (the broker's is not known yet): a
    /// key no release has, or a value none would take, rejects the whole set, and all errors are
    /// reported. [`Desired::for_release`] checks again once the broker has said its release.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Desired, ReloadError> {
        let mut out = Desired::default();
        let mut errors = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut conflicts = Vec::new();
        for (key, value) in pairs {
            // Enough to reject and to show: a 10,000-line junk file should not cost 10,000
            // closest-name searches.
            if errors.len() >= MAX_ERRORS {
                break;
            }
            match seen.get(&key) {
                Some(first) if *first != value => conflicts.push(format!("{key}: {first:?} then {value:?}")),
                Some(_) if !out.duplicates.contains(&key) => out.duplicates.push(key.clone()),
                Some(_) => {}
                None => {
                    seen.insert(key.clone(), value.clone());
                }
            }
            let checked = check(&key, &value);
            out.sort_in(key, checked, None, &mut errors);
        }
        out.finish(errors, conflicts)
    }

    /// The values checked again for `release`, the broker's: a key that release lacks refuses
    /// the whole set (naming its closest key), before anything is sent. What was ignored or set
    /// aside stays so.
    pub fn for_release(&self, release: Release) -> Result<Desired, ReloadError> {
        if self.release == Some(release) {
            return Ok(self.clone());
        }
        let mut out = Desired { values: BTreeMap::new(), release: Some(release), ..self.clone() };
        let mut errors = Vec::new();
        for c in self.values.values() {
            out.sort_in(
                c.param.name.to_string(),
                check_in(release, c.param.name, &c.value),
                Some(release),
                &mut errors,
            );
        }
        out.finish(errors, Vec::new())
    }

    /// Files one checked pair: a value to send, a key to report as ignored, or an error. Before
    /// the release is known (`None`) a key 4.9.6 lacks stays among the values, to be checked
    /// for the broker's release.
    fn sort_in(
        &mut self,
        key: String,
        checked: Result<Option<Checked>, ParamError>,
        release: Option<Release>,
        errors: &mut Vec<ParamError>,
    ) {
        let absent = |c: &Checked| c.param.java == JavaType::JNone || c.param.effect == Effect::Absent;
        match checked {
            Err(e) => errors.push(e),
            Ok(None) => self.ignored.push((
                key,
                format!("not a {} setting (another RocketMQ version's key)", release.unwrap_or(Release::V4_9_6)),
            )),
            Ok(Some(c)) if release.is_some() && absent(&c) => self.ignored.push((key, c.param.note.to_string())),
            Ok(Some(c)) => {
                self.values.insert(c.param.name, c);
            }
        }
    }

    fn finish(self, errors: Vec<ParamError>, conflicts: Vec<String>) -> Result<Desired, ReloadError> {
        let mut out = self;
        out.ignored.sort();
        out.ignored.dedup();
        if !errors.is_empty() {
            Err(ReloadError::Invalid(errors))
        } else if !conflicts.is_empty() {
            Err(ReloadError::Conflicting(conflicts))
        } else {
            Ok(out)
        }
    }

    /// Reads and validates a broker config file; guard-owned keys are set aside.
    pub fn from_file(path: &Path) -> Result<Desired, ReloadError> {
        let (pairs, fingerprint) = read_pairs_hashed(path)?;
        let mut desired = Desired::from_pairs(pairs)?;
        desired.leave_guard_owned();
        desired.fingerprint = fingerprint;
        Ok(desired)
    }

    /// [`Desired::from_file`] on the blocking pool: file reads never stall the async runtime.
    pub async fn from_file_off_runtime(path: &Path) -> Result<Desired, ReloadError> {
        let path = path.to_path_buf();
        match tokio::task::spawn_blocking(move || Desired::from_file(&path)).await {
            Ok(result) => result,
            Err(e) => Err(ReloadError::Internal(e.to_string())),
        }
    }

    /// Moves the guard-owned keys from `values` to `ignored`, saying why.
    pub fn leave_guard_owned(&mut self) {
        for key in GUARD_OWNED {
            if self.values.remove(key).is_some() {
                self.ignored.push((key.to_string(), GUARD_OWNED_WHY.into()));
            }
        }
    }
}

/// A broker config file's pairs as the broker would read them (`Properties.load`), in file
/// order, duplicates included, not validated yet.
pub fn read_pairs(path: &Path) -> Result<Vec<(String, String)>, ReloadError> {
    Ok(read_pairs_hashed(path)?.0)
}

fn read_pairs_hashed(path: &Path) -> Result<(Vec<(String, String)>, u64), ReloadError> {
    use std::io::Read;
    let read_err = |source| ReloadError::ReadFile { path: path.to_path_buf(), source };
    // Bounded: a runaway or wrong file (a log, a store file) must not be read into memory whole.
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)).map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(bytes.len() as u64);
        return Err(ReloadError::TooLarge { path: path.to_path_buf(), size });
    }
    let entries =
        properties::load(&bytes).map_err(|source| ReloadError::Syntax { path: path.to_path_buf(), source })?;
    let fingerprint = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    };
    Ok((entries.into_iter().map(|e| (e.key, e.value)).collect(), fingerprint))
}
