//! Operations on the name servers: cluster info and topic routes, asked of all of them at once.

use std::sync::Arc;

use crate::remoting::codes::request::{GET_BROKER_CLUSTER_INFO, GET_ROUTEINFO_BY_TOPIC};
use crate::remoting::{Client, ClientOptions, Command};

use super::error::AdminError;
use super::fanout::{first_answer, peer_clients, Unanswered};
use super::stats::{route_from_body, QueueData};
use super::types::ClusterInfo;

/// Operations on the name servers. Each request goes to all of them at once and the first good
/// answer wins, so a silent name server costs nothing while another answers. A refusal (an
/// answer with an error code) is reported only when no name server answered well.
pub struct NamesrvAdmin {
    clients: Vec<Arc<Client>>,
}

impl NamesrvAdmin {
    /// `addrs` is RocketMQ's `host:port;host:port` list (commas and blanks also accepted).
    pub fn new(addrs: &str, opts: ClientOptions) -> Result<NamesrvAdmin, AdminError> {
        let clients = peer_clients(addrs, &opts);
        if clients.is_empty() {
            return Err(AdminError::NoNameServer);
        }
        Ok(NamesrvAdmin { clients })
    }

    pub async fn cluster_info(&self) -> Result<ClusterInfo, AdminError> {
        let (addr, resp) = self.first_ok(|| Command::request(GET_BROKER_CLUSTER_INFO)).await?;
        ClusterInfo::from_body(&resp.body).map_err(|reason| AdminError::Decode { what: "cluster info", addr, reason })
    }

    /// The topic's queue data per broker group (GET_ROUTEINFO_BY_TOPIC) from the first name
    /// server that answers.
    pub async fn route(&self, topic: &str) -> Result<Vec<QueueData>, AdminError> {
        let (addr, resp) = self.first_ok(|| Command::request(GET_ROUTEINFO_BY_TOPIC).with_ext("topic", topic)).await?;
        route_from_body(&resp.body).map_err(|reason| AdminError::Decode { what: "topic route", addr, reason })
    }

    async fn first_ok(&self, make: impl Fn() -> Command) -> Result<(String, Command), AdminError> {
        first_answer(&self.clients, make).await.map_err(|e| match e {
            Unanswered::Refused(e) => e.into(),
            Unanswered::Failed(errors) => AdminError::AllNameServersFailed(errors),
        })
    }
}
