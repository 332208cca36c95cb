//! Seeding a new shard's metadata from a running one (what the addon's separate
//! `rocketmq-agent` container does today for `broker-setup.sh`).
//!
//! `serve` answers `/topicInfo` and `/subscriptionGroupInfo` with the JSON the broker itself
//! persists as `config/topics.json` / `config/subscriptionGroup.json` (taken live from the
//! broker); `seed` fetches them from peers and writes them into a data dir before the broker
//! starts: validated, atomically, never over an existing file.

mod error;
mod fetch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::admin::{is_system_group, is_system_topic, own_topics, AdminError, BrokerAdmin};

pub use error::{FetchError, SeedError};
pub use fetch::http_get;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedFile {
    Topics,
    Groups,
}

impl SeedFile {
    pub const ALL: [SeedFile; 2] = [SeedFile::Topics, SeedFile::Groups];

    /// Where the broker keeps it, under its store root (`storePathRootDir`).
    pub fn file_name(self) -> &'static str {
        match self {
            SeedFile::Topics => "topics.json",
            SeedFile::Groups => "subscriptionGroup.json",
        }
    }

    /// The HTTP path the addon's broker-setup.sh asks for.
    pub fn http_path(self) -> &'static str {
        match self {
            SeedFile::Topics => "/topicInfo",
            SeedFile::Groups => "/subscriptionGroupInfo",
        }
    }

    fn table_key(self) -> &'static str {
        match self {
            SeedFile::Topics => "topicConfigTable",
            SeedFile::Groups => "subscriptionGroupTable",
        }
    }
}

/// The broker's current topics or groups, in its own file format. Unless `include_system`,
/// entries every broker creates for itself and this shard's own broker-name and cluster-name
/// topics are left out: a new shard creates its own, and a copied broker-name topic would
/// route to the wrong shard.
pub async fn snapshot(admin: &BrokerAdmin, file: SeedFile, include_system: bool) -> Result<Value, AdminError> {
    let mut doc = match file {
        SeedFile::Topics => admin.topic_configs_json().await?,
        SeedFile::Groups => admin.groups_json().await?,
    };
    if !include_system {
        let own = own_topics(&admin.config().await?);
        if let Some(Value::Object(table)) = doc.get_mut(file.table_key()) {
            table.retain(|name, _| match file {
                SeedFile::Topics => !is_system_topic(name, &own),
                SeedFile::Groups => !is_system_group(name),
            });
        }
    }
    Ok(doc)
}

/// Checks a peer's answer the way broker-setup.sh should have: valid JSON, an object with
/// `dataVersion` and the table. Returns the bytes to write and the table's entry count.
pub fn validate(file: SeedFile, body: &[u8]) -> Result<(Vec<u8>, usize), FetchError> {
    let invalid = FetchError::Invalid;
    let v: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if !v.get("dataVersion").is_some_and(Value::is_object) {
        return Err(invalid("no dataVersion object".into()));
    }
    let entries = v.get(file.table_key()).and_then(Value::as_object).map(|t| t.len());
    let entries = entries.ok_or_else(|| invalid(format!("no {} object", file.table_key())))?;
    Ok((serde_json::to_vec_pretty(&v).map_err(|e| invalid(e.to_string()))?, entries))
}

#[derive(Debug)]
pub enum Seeded {
    Written { path: PathBuf, from: String, entries: usize },
    Kept { path: PathBuf },
}

/// Writes each file into `store_root/config/` from the first URL that answers validly. A file
/// that already exists is kept. Errors name every URL tried; nothing partial is left behind.
pub async fn seed(urls: &[String], store_root: &Path, timeout: Duration) -> Result<Vec<Seeded>, SeedError> {
    let dir = store_root.join("config");
    std::fs::create_dir_all(&dir).map_err(|source| SeedError::CreateDir { path: dir.clone(), source })?;
    let mut out = Vec::new();
    for file in SeedFile::ALL {
        let path = dir.join(file.file_name());
        if path.exists() {
            out.push(Seeded::Kept { path });
            continue;
        }
        let mut errors = Vec::new();
        let mut written = None;
        for base in urls {
            let url = format!("{}{}", base.trim_end_matches('/'), file.http_path());
            match http_get(&url, timeout).await.and_then(|body| validate(file, &body)) {
                Ok((bytes, entries)) => {
                    write_atomic(&path, &bytes)?;
                    written = Some(Seeded::Written { path: path.clone(), from: url, entries });
                    break;
                }
                Err(e) => errors.push((url, e)),
            }
        }
        match written {
            Some(w) => out.push(w),
            None => return Err(SeedError::NoPeer { file: file.file_name(), tried: errors }),
        }
    }
    Ok(out)
}

/// Temp file in the same directory, fsync, rename: a reader sees the old state or the whole file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SeedError> {
    use std::io::Write;
    let tmp = path.with_extension("json.seed-tmp");
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        SeedError::Write { path: path.to_path_buf(), source }
    })
}
