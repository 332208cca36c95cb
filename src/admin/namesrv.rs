use crate::remoting::codes::request::GET_BROKER_CLUSTER_INFO;
use crate::remoting::{Client, ClientOptions, Command};

use super::error::AdminError;
use super::types::ClusterInfo;

/// Operations on the name servers. Each request goes to the first name server that answers,
/// in the order given; a refusal (the server answered with an error code) is final.
pub struct NamesrvAdmin {
    clients: Vec<Client>,
}

impl NamesrvAdmin {
    /// `addrs` is RocketMQ's `host:port;host:port` list (commas and blanks also accepted).
    pub fn new(addrs: &str, opts: ClientOptions) -> Result<NamesrvAdmin, AdminError> {
        let clients: Vec<Client> = split_addrs(addrs).map(|a| Client::new(a, opts.clone())).collect();
        if clients.is_empty() {
            return Err(AdminError::NoNameServer);
        }
        Ok(NamesrvAdmin { clients })
    }

    pub async fn cluster_info(&self) -> Result<ClusterInfo, AdminError> {
        let (addr, resp) = self.first_ok(|| Command::request(GET_BROKER_CLUSTER_INFO)).await?;
        ClusterInfo::from_body(&resp.body).map_err(|reason| AdminError::Decode { what: "cluster info", addr, reason })
    }

    async fn first_ok(&self, make: impl Fn() -> Command) -> Result<(String, Command), AdminError> {
        let mut errors = Vec::new();
        for client in &self.clients {
            match client.invoke_ok(make()).await {
                Ok(resp) => return Ok((client.addr().to_string(), resp)),
                Err(e) if e.is_refusal() => return Err(e.into()),
                Err(e) => {
                    tracing::debug!(namesrv = client.addr(), error = %e, "name server unavailable, trying the next");
                    errors.push(e)
                }
            }
        }
        Err(AdminError::AllNameServersFailed(errors))
    }
}

pub(crate) fn split_addrs(addrs: &str) -> impl Iterator<Item = &str> {
    addrs.split([';', ',', ' ', '\n', '\t']).map(str::trim).filter(|a| !a.is_empty())
}
