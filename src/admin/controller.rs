//! RocketMQ 5.x controller mode: the controller (standalone, or inside the name server, where it
//! listens on its DLedger peer port) elects each shard's master and keeps its SyncStateSet, the
//! replicas allowed to take over. A broker learns of a new master only when it next asks, so the
//! controller, not the broker, is the authority on who the master is right now.

use std::sync::Arc;

use serde::Serialize;

use crate::remoting::codes::request::CONTROLLER_GET_REPLICA_INFO;
use crate::remoting::{json, Client, ClientOptions, Command};

use super::error::{AdminError, DecodeError};
use super::fanout::{first_answer, peer_clients, Unanswered};

/// A shard as the controller sees it (CONTROLLER_GET_REPLICA_INFO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaInfo {
    /// The elected master's address; None while the shard has none.
    pub master_addr: Option<String>,
    pub master_broker_id: Option<i64>,
    /// Bumped at every election.
    pub master_epoch: Option<i64>,
    /// The brokerIds allowed to take over (in sync with the master).
    pub sync_state_set: Vec<i64>,
}

/// The controllers named by a broker's `controllerAddr`; requests go to all of them and the
/// leader's answer wins (followers refuse).
pub struct ControllerAdmin {
    clients: Vec<Arc<Client>>,
}

impl ControllerAdmin {
    /// `addrs`: the broker's `controllerAddr` (`host:port;host:port`).
    pub fn new(addrs: &str, opts: ClientOptions) -> Result<ControllerAdmin, AdminError> {
        let clients = peer_clients(addrs, &opts);
        if clients.is_empty() {
            return Err(AdminError::NoController);
        }
        Ok(ControllerAdmin { clients })
    }

    pub async fn replica_info(&self, broker_name: &str) -> Result<ReplicaInfo, AdminError> {
        let make = || Command::request(CONTROLLER_GET_REPLICA_INFO).with_ext("brokerName", broker_name);
        let (addr, resp) = first_answer(&self.clients, make).await.map_err(|e| match e {
            Unanswered::Refused(e) => e.into(),
            Unanswered::Failed(errors) => AdminError::AllControllersFailed(errors),
        })?;
        replica_info_from(&resp).map_err(|reason| AdminError::Decode { what: "controller replica info", addr, reason })
    }
}

/// Header `masterAddress`, `masterBrokerId`, `masterEpoch`; body `{"syncStateSet":[ids],..}`.
fn replica_info_from(resp: &Command) -> Result<ReplicaInfo, DecodeError> {
    let field = |k: &str| resp.ext_fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str| field(k).and_then(|v| v.parse::<i64>().ok());
    let sync_state_set = if resp.body.is_empty() {
        Vec::new()
    } else {
        let v = json::parse(&resp.body).map_err(DecodeError::from)?;
        v.get("syncStateSet")
            .and_then(|s| s.as_array())
            .map(|ids| ids.iter().filter_map(|id| id.as_i64()).collect())
            .ok_or("no syncStateSet in the body")?
    };
    Ok(ReplicaInfo {
        master_addr: field("masterAddress").map(str::to_string),
        master_broker_id: number("masterBrokerId"),
        master_epoch: number("masterEpoch"),
        sync_state_set,
    })
}
