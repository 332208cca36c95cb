//! Typed operations on a broker and on the name servers. Callers see Rust types and
//! [`AdminError`]; the remoting details stay in [`crate::remoting`].

mod broker;
mod controller;
mod dledger;
mod error;
mod fanout;
mod namesrv;
mod paged;
mod stats;
mod system;
mod types;
mod version;

pub use broker::BrokerAdmin;
pub use controller::{ControllerAdmin, ReplicaInfo};
pub use dledger::{own_member, DLedgerAdmin, DLedgerMember, DLedgerView};
pub use error::AdminError;
pub use fanout::{bounded, topic_stats, IN_FLIGHT};
pub use namesrv::NamesrvAdmin;
pub use paged::PAGE_ROWS;
/// Body decoders, public for the fuzzers.
pub use stats::{
    client_progress_from_body, consume_stats_batch_from_body, consumer_connection_from_body,
    consumer_offsets_from_body, groups_from_body, stats_minute_from_body, topic_offsets_from_body,
};
pub use stats::{
    BatchQueue, BatchQueues, ClientProgress, ConsumerOffsets, GroupConfig, OnlineConsumers, QueueData, StatsMinute,
    TopicConfig, TopicOffsets, TopicStats,
};
pub use system::{
    is_system_group, is_system_topic, own_topics, DLQ_PREFIX, RETRY_PREFIX, REVIVE_GROUP, REVIVE_PREFIX, TIMER_TOPIC,
};
pub use types::{
    broker_id, is_master, runtime_info_from_body, write_permission, BrokerConfig, BrokerData, ClusterInfo,
    CommitLogMark, DataVersion, RuntimeInfo,
};
pub use version::BrokerVersion;
