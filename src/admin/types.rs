//! Typed views of the broker's config, runtime info and the name servers' cluster info (decoded
//! leniently: fastjson's unquoted integer keys, unknown fields ignored).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::remoting::json;

use super::error::DecodeError;

/// The broker's effective configuration (GET_BROKER_CONFIG), key → value as the broker prints it.
pub type BrokerConfig = BTreeMap<String, String>;

/// A broker's DataVersion: bumped (counter + 1, timestamp = the broker's clock) on every change
/// of the data it versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataVersion {
    pub counter: i64,
    /// ms since the epoch, the broker's clock.
    pub timestamp_ms: i64,
}

/// The broker's `brokerId` from its live config; None when absent or not a number.
pub fn broker_id(config: &BrokerConfig) -> Option<u64> {
    config.get("brokerId")?.trim().parse().ok()
}

/// Whether the broker is its shard's master: brokerId 0 (in DLedger mode the role handler
/// rewrites it on every leadership change, so the live config is the runtime role). A config
/// without a usable brokerId is not a master: nothing is assumed.
pub fn is_master(config: &BrokerConfig) -> bool {
    broker_id(config) == Some(0)
}

/// RocketMQ's PermName: 2 is the write bit of brokerPermission (6 read-write, 4 read-only).
const PERM_WRITE: u32 = 2;

/// Whether the broker takes writes: the write bit of its live `brokerPermission`; None when the
/// key is absent or not a number.
pub fn write_permission(config: &BrokerConfig) -> Option<bool> {
    config.get("brokerPermission")?.trim().parse::<u32>().ok().map(|p| p & PERM_WRITE != 0)
}

/// GET_BROKER_RUNTIME_INFO's key/value table (all values are strings on the wire).
pub type RuntimeInfo = BTreeMap<String, String>;

/// Where a broker's commit log stood in one runtime sample, taken only when every message in it
/// had reached its consume queue. Every put (any topic, retries, delayed and transaction
/// messages) extends the commit log, so two equal marks from one store mean that no queue's max
/// offset moved between the two samples.
///
/// Why one sample is enough to say "dispatched": the broker reads `commitLogMaxOffset` before
/// `dispatchBehindBytes` while it builds the answer (4.9.6 and 5.x `AdminBrokerProcessor.
/// prepareRuntimeInfo`: the store's table first), and it moves its dispatch offset only after a
/// message's consume-queue entry is written (`ReputMessageService.doReput`). A behind of 0 read
/// after the max therefore covers everything up to that max.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitLogMark {
    min_offset: i64,
    max_offset: i64,
    /// The store's start time: a restarted broker (recovered, perhaps truncated) is another store.
    boot: String,
}

impl CommitLogMark {
    /// The sample's mark; None while the broker is still dispatching, or when it leaves a
    /// field out or unreadable (nothing is assumed).
    pub fn of(info: &RuntimeInfo) -> Option<CommitLogMark> {
        let number = |key: &str| info.get(key)?.trim().parse::<i64>().ok();
        if number("dispatchBehindBytes")? != 0 {
            return None;
        }
        Some(CommitLogMark {
            min_offset: number("commitLogMinOffset")?,
            max_offset: number("commitLogMaxOffset")?,
            boot: info.get("bootTimestamp")?.trim().to_string(),
        })
    }

    /// Where the commit log ends (the physical offset the next entry gets).
    pub fn end(&self) -> i64 {
        self.max_offset
    }

    /// Whether this mark is `earlier`'s commit log with only entries appended: the same store,
    /// nothing deleted from its start, and its end no earlier.
    pub fn only_appended_to(&self, earlier: &CommitLogMark) -> bool {
        self.boot == earlier.boot && self.min_offset == earlier.min_offset && self.max_offset >= earlier.max_offset
    }
}

/// The name servers' view of clusters and broker groups (GET_BROKER_CLUSTER_INFO).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    /// brokerName → its addresses by brokerId (0 = master).
    pub brokers: BTreeMap<String, BrokerData>,
    /// cluster name → brokerNames.
    pub clusters: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    pub cluster: String,
    pub broker_name: String,
    pub addrs: BTreeMap<u64, String>,
}

impl ClusterInfo {
    /// Decodes a GET_BROKER_CLUSTER_INFO body (fastjson: integer map keys are unquoted).
    pub fn from_body(body: &[u8]) -> Result<ClusterInfo, DecodeError> {
        let value = json::parse(body)?;
        let raw: RawClusterInfo = serde_json::from_value(value).map_err(|e| DecodeError::Shape(e.to_string()))?;
        raw.into_typed()
    }

    /// The address of `shard`'s master (brokerId 0) as the name servers have it, or why there is none.
    pub fn master_of(&self, shard: &str) -> Result<&str, &'static str> {
        let data = self.brokers.get(shard).ok_or("not registered with the name servers")?;
        data.addrs.get(&0).map(String::as_str).ok_or("no master (brokerId 0) registered")
    }

    /// The broker group that has `addr` registered under any brokerId, with that id.
    pub fn find_addr(&self, addr: &str) -> Option<(&BrokerData, u64)> {
        self.brokers.values().find_map(|b| b.addrs.iter().find(|(_, a)| a.as_str() == addr).map(|(id, _)| (b, *id)))
    }
}

// ---- wire shapes (lenient: unknown fields ignored, missing ones defaulted) ----

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawClusterInfo {
    broker_addr_table: BTreeMap<String, RawBrokerData>,
    cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawBrokerData {
    cluster: String,
    broker_name: String,
    broker_addrs: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawKvTable {
    table: BTreeMap<String, serde_json::Value>,
}

/// Decodes a GET_BROKER_RUNTIME_INFO body (`{"table":{...}}`; values kept as text).
pub fn runtime_info_from_body(body: &[u8]) -> Result<RuntimeInfo, DecodeError> {
    let value = json::parse(body)?;
    let raw: RawKvTable = serde_json::from_value(value).map_err(|e| DecodeError::Shape(e.to_string()))?;
    Ok(raw.table.into_iter().map(|(k, v)| (k, json::text(v))).collect())
}

impl RawClusterInfo {
    fn into_typed(self) -> Result<ClusterInfo, DecodeError> {
        let mut brokers = BTreeMap::new();
        for (name, raw) in self.broker_addr_table {
            let mut addrs = BTreeMap::new();
            for (id, addr) in raw.broker_addrs {
                let id: u64 = id.parse().map_err(|_| format!("broker {name}: brokerId {id:?} is not a number"))?;
                addrs.insert(id, addr);
            }
            let broker_name = if raw.broker_name.is_empty() { name.clone() } else { raw.broker_name };
            brokers.insert(name, BrokerData { cluster: raw.cluster, broker_name, addrs });
        }
        Ok(ClusterInfo { brokers, clusters: self.cluster_addr_table })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_log_mark_only_when_everything_was_dispatched() {
        let info = |behind: &str| -> RuntimeInfo {
            [
                ("dispatchBehindBytes", behind),
                ("commitLogMinOffset", "0"),
                ("commitLogMaxOffset", "4096"),
                ("bootTimestamp", "1764900000000"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let mark = CommitLogMark::of(&info("0")).expect("dispatched");
        assert_eq!(mark, CommitLogMark::of(&info(" 0 ")).unwrap());
        assert_eq!(CommitLogMark::of(&info("512")), None, "still dispatching");
        assert_eq!(CommitLogMark::of(&info("")), None, "unreadable");
        let mut restarted = info("0");
        restarted.insert("bootTimestamp".into(), "1764900099999".into());
        assert_ne!(CommitLogMark::of(&restarted), Some(mark.clone()), "another store");
        let mut put = info("0");
        put.insert("commitLogMaxOffset".into(), "4300".into());
        assert_ne!(CommitLogMark::of(&put), Some(mark.clone()));
        let put = CommitLogMark::of(&put).unwrap();
        assert!(put.only_appended_to(&mark) && mark.only_appended_to(&mark) && !mark.only_appended_to(&put));
        assert_eq!(put.end(), 4300);
        let restarted = CommitLogMark::of(&restarted).unwrap();
        assert!(!restarted.only_appended_to(&mark), "another store");
        let mut deleted = info("0");
        deleted.insert("commitLogMinOffset".into(), "1024".into());
        assert!(!CommitLogMark::of(&deleted).unwrap().only_appended_to(&mark), "retention deleted a file");
        let mut without_max = info("0");
        without_max.remove("commitLogMaxOffset");
        assert_eq!(CommitLogMark::of(&without_max), None);
    }

    #[test]
    fn write_permission_is_the_write_bit_of_broker_permission() {
        let with = |p: &str| write_permission(&[("brokerPermission".to_string(), p.to_string())].into());
        assert_eq!((with("6"), with("4"), with("2"), with("x")), (Some(true), Some(false), Some(true), None));
        assert_eq!(write_permission(&BrokerConfig::new()), None);
    }
}
