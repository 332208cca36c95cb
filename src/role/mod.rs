//! Role detection: is the local broker the master or a slave of its shard, or can we not tell?
//!
//! The broker's own live config (brokerRole, brokerId) is the source. In DLedger mode the broker's
//! role handler rewrites those two fields on every leadership change, so the live config is the
//! runtime state there too. The name servers are the cross-check: the address the broker registers
//! (brokerIP1:listenPort) must sit under the same brokerId in its shard. In 5.x controller mode
//! the controller elects the master, and a demoted or paused old master learns of it only when
//! it next asks: a master claim there needs the controller's confirmation. Any contradiction, or
//! a broker that cannot be asked, is `unknown`; a role is never guessed or kept from an old answer.

pub mod poller;
mod probe;
mod state;

pub use probe::{NamesrvCheck, Observation, RoleError, RoleProbe};
pub use state::{
    Counters, Identity, LastError, LastGood, ProbeState, RoleEvent, Snapshot, Status, View, STALE_AFTER_INTERVALS,
};

use serde::Serialize;

/// The role names the KubeBlocks rocketmq addon declares for its broker component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Master,
    Slave,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Slave => "slave",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
