use std::collections::BTreeMap;

use crate::remoting::codes::request::{GET_BROKER_CONFIG, GET_BROKER_RUNTIME_INFO, UPDATE_BROKER_CONFIG};
use crate::remoting::properties::{encode_update_body, parse_config_body};
use crate::remoting::{json, Client, ClientOptions, Command, RemotingError};

use super::error::AdminError;
use super::types::{runtime_info_from_body, BrokerConfig, RuntimeInfo};

/// Operations on one broker.
pub struct BrokerAdmin {
    client: Client,
}

impl BrokerAdmin {
    pub fn new(addr: impl Into<String>, opts: ClientOptions) -> BrokerAdmin {
        BrokerAdmin { client: Client::new(addr, opts) }
    }

    pub fn addr(&self) -> &str {
        self.client.addr()
    }

    /// The broker's effective configuration.
    pub async fn config(&self) -> Result<BrokerConfig, AdminError> {
        Ok(self.config_versioned().await?.0)
    }

    /// The configuration and its version counter (bumped by one on every update request,
    /// accepted keys or not; None if the broker sent no version).
    pub async fn config_versioned(&self) -> Result<(BrokerConfig, Option<u64>), AdminError> {
        let resp = self.client.invoke_ok(Command::request(GET_BROKER_CONFIG)).await?;
        let config = parse_config_body(&resp.body);
        if config.is_empty() {
            return Err(self.decode_err("broker config", "empty answer".into()));
        }
        let counter = resp
            .ext_fields
            .get("version")
            .and_then(|v| json::parse(v.as_bytes()).ok())
            .and_then(|v| v.get("counter").and_then(|c| c.as_u64()));
        Ok((config, counter))
    }

    /// Sends all pairs in one UPDATE_BROKER_CONFIG. 4.9.6 answers SUCCESS even for unknown keys
    /// and unparsable values, so callers must read the config back to know what took.
    pub async fn update_config(&self, pairs: &BTreeMap<String, String>) -> Result<(), AdminError> {
        let body = encode_update_body(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.client.invoke_ok(Command::request(UPDATE_BROKER_CONFIG).with_body(body)).await?;
        Ok(())
    }

    /// GET_BROKER_RUNTIME_INFO: throughput, offsets, disk ratios, versions.
    pub async fn runtime_info(&self) -> Result<RuntimeInfo, AdminError> {
        let resp = match self.client.invoke_ok(Command::request(GET_BROKER_RUNTIME_INFO)).await {
            // Until the store's stats sampler has run once (about a second after boot), 4.9.6
            // fails this request with NoSuchElementException from an empty sample list.
            Err(RemotingError::Refused { remark, .. }) if remark.contains("NoSuchElementException") => {
                return Err(AdminError::Starting { addr: self.addr().to_string() })
            }
            other => other?,
        };
        runtime_info_from_body(&resp.body).map_err(|e| self.decode_err("runtime info", e))
    }

    fn decode_err(&self, what: &'static str, reason: String) -> AdminError {
        AdminError::Decode { what, addr: self.client.addr().to_string(), reason }
    }
}
