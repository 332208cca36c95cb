//! Operations on one broker: config (read, update), topics, groups, offsets, topic stats,
//! online consumers and their own progress, statistics and runtime info, each one request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::remoting::codes::request::{
    GET_ALL_CONSUMER_OFFSET, GET_ALL_DELAY_OFFSET, GET_BROKER_CONFIG, GET_BROKER_CONSUME_STATS,
    GET_BROKER_RUNTIME_INFO, GET_CONSUMER_CONNECTION_LIST, GET_CONSUMER_RUNNING_INFO, GET_MAX_OFFSET,
    GET_TIMER_METRICS, GET_TOPIC_STATS_INFO, UPDATE_BROKER_CONFIG, VIEW_BROKER_STATS_DATA, VIEW_MESSAGE_BY_ID,
};
use crate::remoting::codes::response::{CONSUMER_NOT_ONLINE, SYSTEM_ERROR};
use crate::remoting::properties::{encode_update_body, parse_config_body};
use crate::remoting::{decode_stored, json, Client, ClientOptions, Command, RemotingError, StoredEntry};

use super::error::{AdminError, DecodeError};
use super::paged;
use super::stats::{
    client_progress_from_body, consume_stats_batch_from_body, consumer_connection_from_body,
    consumer_offsets_from_body, delay_offsets_from_body, stats_minute_from_body, timer_counts_from_body,
    topic_offsets_from_body, BatchQueues, ClientProgress, ConsumerOffsets, GroupConfig, OnlineConsumers, StatsMinute,
    TopicConfig, TopicStats,
};
use super::types::{runtime_info_from_body, BrokerConfig, DataVersion, RuntimeInfo};
use super::version::BrokerVersion;

/// Operations on one broker.
pub struct BrokerAdmin {
    client: Client,
    /// The `version` of the broker's latest answer (0 = none yet); see [`BrokerVersion`].
    seen_version: AtomicI32,
}

impl BrokerAdmin {
    pub fn new(addr: impl Into<String>, opts: ClientOptions) -> BrokerAdmin {
        BrokerAdmin { client: Client::new(addr, opts), seen_version: AtomicI32::new(0) }
    }

    /// The broker's release, from its latest answer; None before the first one.
    pub fn version(&self) -> Option<BrokerVersion> {
        Some(self.seen_version.load(Ordering::Relaxed)).filter(|v| *v > 0).map(BrokerVersion)
    }

    /// One request that must succeed; the answer's version is kept (a broker restarted on a new
    /// image answers with its new one).
    pub(super) async fn call(&self, cmd: Command) -> Result<Command, RemotingError> {
        let resp = self.client.invoke_ok(cmd).await?;
        if resp.version > 0 {
            self.seen_version.store(resp.version, Ordering::Relaxed);
        }
        Ok(resp)
    }

    pub fn addr(&self) -> &str {
        self.client.addr()
    }

    /// The largest answer this broker's connection accepts (`--max-frame`).
    pub fn max_frame(&self) -> usize {
        self.client.max_frame()
    }

    /// The broker's effective configuration.
    pub async fn config(&self) -> Result<BrokerConfig, AdminError> {
        Ok(self.config_versioned().await?.0)
    }

    /// The configuration and its version (bumped on every update request, accepted keys or
    /// not; None if the broker sent no version).
    pub async fn config_versioned(&self) -> Result<(BrokerConfig, Option<DataVersion>), AdminError> {
        let resp = self.call(Command::request(GET_BROKER_CONFIG)).await?;
        let config = parse_config_body(&resp.body);
        if config.is_empty() {
            return Err(self.decode_err("broker config", "empty answer"));
        }
        let version = resp.ext_fields.get("version").and_then(|v| json::parse(v.as_bytes()).ok()).and_then(|v| {
            let field = |f: &str| v.get(f).and_then(|n| n.as_i64());
            Some(DataVersion { counter: field("counter")?, timestamp_ms: field("timestamp")? })
        });
        Ok((config, version))
    }

    /// Sends all pairs in one UPDATE_BROKER_CONFIG. 4.9.6 answers SUCCESS even for unknown keys
    /// and unparsable values, so callers must read the config back to know what took.
    pub async fn update_config(&self, pairs: &BTreeMap<String, String>) -> Result<(), AdminError> {
        let body = encode_update_body(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.call(Command::request(UPDATE_BROKER_CONFIG).with_body(body)).await?;
        Ok(())
    }

    /// Every topic this broker holds (GET_ALL_TOPIC_CONFIG, in pages where the broker pages it).
    pub async fn topic_configs(&self) -> Result<BTreeMap<String, TopicConfig>, AdminError> {
        paged::read_rows(self, &paged::TOPICS).await
    }

    /// GET_ALL_TOPIC_CONFIG's body as JSON: `{"dataVersion":..,"topicConfigTable":..}`, the same
    /// shape the broker persists as `config/topics.json` (all pages in one document).
    pub async fn topic_configs_json(&self) -> Result<serde_json::Value, AdminError> {
        paged::read_document(self, &paged::TOPICS).await
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG's body as JSON: the shape of `config/subscriptionGroup.json`
    /// (all pages in one document).
    pub async fn groups_json(&self) -> Result<serde_json::Value, AdminError> {
        paged::read_document(self, &paged::GROUPS).await
    }

    /// Every subscription group (GET_ALL_SUBSCRIPTIONGROUP_CONFIG, in pages where the broker pages it).
    pub async fn groups(&self) -> Result<BTreeMap<String, GroupConfig>, AdminError> {
        paged::read_rows(self, &paged::GROUPS).await
    }

    /// Every committed consumer offset (GET_ALL_CONSUMER_OFFSET), one request for all groups.
    pub async fn consumer_offsets(&self) -> Result<ConsumerOffsets, AdminError> {
        let resp = self.call(Command::request(GET_ALL_CONSUMER_OFFSET)).await?;
        consumer_offsets_from_body(&resp.body).map_err(|e| self.decode_err("consumer offsets", e))
    }

    /// How far the schedule service has delivered each delay level (GET_ALL_DELAY_OFFSET).
    pub async fn delay_offsets(&self) -> Result<BTreeMap<u32, i64>, AdminError> {
        let resp = self.call(Command::request(GET_ALL_DELAY_OFFSET)).await?;
        delay_offsets_from_body(&resp.body).map_err(|e| self.decode_err("delay offsets", e))
    }

    /// 5.x: messages waiting in the timer wheel, per real topic (GET_TIMER_METRICS).
    pub async fn timer_counts(&self) -> Result<BTreeMap<String, i64>, AdminError> {
        let resp = self.call(Command::request(GET_TIMER_METRICS)).await?;
        timer_counts_from_body(&resp.body).map_err(|e| self.decode_err("timer metrics", e))
    }

    /// Min and max offset of every (write) queue of `topic`, one request (GET_TOPIC_STATS_INFO).
    pub async fn topic_offsets(&self, topic: &str) -> Result<TopicStats, AdminError> {
        let resp = self.call(Command::request(GET_TOPIC_STATS_INFO).with_ext("topic", topic)).await?;
        topic_offsets_from_body(&resp.body).map_err(|e| self.decode_err("topic stats", e))
    }

    /// Where every queue ends that a subscription group has committed offsets on, one request
    /// for the whole broker (GET_BROKER_CONSUME_STATS; `isOrder=false`: every topic).
    pub async fn consume_stats_batch(&self) -> Result<BatchQueues, AdminError> {
        let resp = self.call(Command::request(GET_BROKER_CONSUME_STATS).with_ext("isOrder", "false")).await?;
        consume_stats_batch_from_body(&resp.body).map_err(|e| self.decode_err("broker consume stats", e))
    }

    /// The commit-log entry at physical offset `offset` (VIEW_MESSAGE_BY_ID): where its message
    /// went, or a file's end filler. The broker sends the whole stored message; only its place is read.
    pub async fn stored_entry(&self, offset: i64) -> Result<StoredEntry, AdminError> {
        let resp = self.call(Command::request(VIEW_MESSAGE_BY_ID).with_ext("offset", offset.to_string())).await?;
        decode_stored(&resp.body).map_err(|reason| self.decode_err("stored message", reason))
    }

    /// A group's online consumers: their message model (`CLUSTERING` / `BROADCASTING`), client
    /// ids and subscribed topics; None when none is online (GET_CONSUMER_CONNECTION_LIST).
    pub async fn online_consumers(&self, group: &str) -> Result<Option<OnlineConsumers>, AdminError> {
        let req = Command::request(GET_CONSUMER_CONNECTION_LIST).with_ext("consumerGroup", group);
        match self.call(req).await {
            Ok(resp) => consumer_connection_from_body(&resp.body)
                .map(Some)
                .map_err(|e| self.decode_err("consumer connections", e)),
            Err(RemotingError::Refused { code: CONSUMER_NOT_ONLINE, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// One consumer client's own view of its progress on this broker's queues (named
    /// `broker_name`): GET_CONSUMER_RUNNING_INFO, which the broker forwards to the client over
    /// the client's own connection. The only source of a BROADCASTING client's offsets.
    pub async fn client_progress(
        &self,
        group: &str,
        client_id: &str,
        broker_name: &str,
    ) -> Result<ClientProgress, AdminError> {
        let req = Command::request(GET_CONSUMER_RUNNING_INFO)
            .with_ext("consumerGroup", group)
            .with_ext("clientId", client_id)
            .with_ext("jstackEnable", "false");
        let resp = self.call(req).await?;
        client_progress_from_body(&resp.body, broker_name).map_err(|e| self.decode_err("consumer running info", e))
    }

    /// One of the broker's own statistics (VIEW_BROKER_STATS_DATA), over the last minute; None
    /// when the broker has no such item (nothing counted yet under that name and key).
    pub async fn stats_minute(&self, name: &str, key: &str) -> Result<Option<StatsMinute>, AdminError> {
        let req = Command::request(VIEW_BROKER_STATS_DATA).with_ext("statsName", name).with_ext("statsKey", key);
        match self.call(req).await {
            Ok(resp) => stats_minute_from_body(&resp.body).map(Some).map_err(|e| self.decode_err("broker stats", e)),
            Err(RemotingError::Refused { code: SYSTEM_ERROR, remark, .. }) if remark.contains("not exist") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The max offset of one queue (GET_MAX_OFFSET); for queues the topic stats do not cover.
    pub async fn max_offset(&self, topic: &str, queue: u32) -> Result<i64, AdminError> {
        let req = Command::request(GET_MAX_OFFSET).with_ext("topic", topic).with_ext("queueId", queue.to_string());
        let resp = self.call(req).await?;
        resp.ext_fields
            .get("offset")
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| self.decode_err("max offset", "no offset in the answer"))
    }

    /// GET_BROKER_RUNTIME_INFO: throughput, offsets, disk ratios, versions.
    pub async fn runtime_info(&self) -> Result<RuntimeInfo, AdminError> {
        let resp = match self.call(Command::request(GET_BROKER_RUNTIME_INFO)).await {
            // Until the store's stats sampler has run once (about a second after boot), 4.9.6
            // fails this request with NoSuchElementException from an empty sample list.
            Err(RemotingError::Refused { remark, .. }) if remark.contains("NoSuchElementException") => {
                return Err(AdminError::Starting { addr: self.addr().to_string() })
            }
            other => other?,
        };
        runtime_info_from_body(&resp.body).map_err(|e| self.decode_err("runtime info", e))
    }

    pub(super) fn decode_err(&self, what: &'static str, reason: impl Into<DecodeError>) -> AdminError {
        AdminError::Decode { what, addr: self.client.addr().to_string(), reason: reason.into() }
    }
}
