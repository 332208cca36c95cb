//! Names every 4.9.6 and 5.x broker creates for itself (`TopicConfigManager`,
//! `SubscriptionGroupManager` constructors, `MixAll`/`TopicValidator`/`PopAckConstants`
//! constants): never user data, never to be copied to another broker.

use std::collections::BTreeSet;

/// Prefix of a group's retry topic (`%RETRY%<group>`, MixAll.RETRY_GROUP_TOPIC_PREFIX).
pub const RETRY_PREFIX: &str = "%RETRY%";
/// Prefix of a group's dead-letter topic (`%DLQ%<group>`, MixAll.DLQ_GROUP_TOPIC_PREFIX).
pub const DLQ_PREFIX: &str = "%DLQ%";

/// 5.x: the topic the timer wheel first stores timed messages in (TimerMessageStore.TIMER_TOPIC).
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// 5.x: prefix of the POP checkpoint and ack log, `rmq_sys_REVIVE_LOG_<cluster>` (PopAckConstants).
pub const REVIVE_PREFIX: &str = "rmq_sys_REVIVE_LOG_";
/// 5.x: the broker's own consumer of the revive log (PopAckConstants.REVIVE_GROUP).
pub const REVIVE_GROUP: &str = "CID_RMQ_SYS_REVIVE_GROUP";

/// A system topic, or the broker's own cluster- or broker-name topic (`own`).
pub fn is_system_topic(topic: &str, own: &BTreeSet<String>) -> bool {
    matches!(topic, "TBW102" | "SELF_TEST_TOPIC" | "OFFSET_MOVED_EVENT" | "BenchmarkTest" | "SCHEDULE_TOPIC_XXXX")
        || topic.starts_with("RMQ_SYS_")
        || topic.starts_with("rmq_sys_")
        || own.contains(topic)
}

/// The topics a broker creates for its own identity: its broker name and cluster name (with
/// `brokerTopicEnable` / `clusterTopicEnable`) and `<cluster>_REPLY_TOPIC`.
pub fn own_topics(config: &super::BrokerConfig) -> BTreeSet<String> {
    let mut own: BTreeSet<String> =
        ["brokerName", "brokerClusterName"].iter().filter_map(|k| config.get(*k).cloned()).collect();
    if let Some(cluster) = config.get("brokerClusterName") {
        own.insert(format!("{cluster}_REPLY_TOPIC"));
    }
    own
}

/// A subscription group the broker creates for itself.
pub fn is_system_group(group: &str) -> bool {
    matches!(
        group,
        "TOOLS_CONSUMER"
            | "FILTERSRV_CONSUMER"
            | "SELF_TEST_C_GROUP"
            | "CID_ONS-HTTP-PROXY"
            | "CID_ONSAPI_PERMISSION"
            | "CID_ONSAPI_OWNER"
            | "CID_ONSAPI_PULL"
    ) || group.starts_with("CID_RMQ_SYS_") // CID_RMQ_SYS_TRANS, 5.x's CID_RMQ_SYS_REVIVE_GROUP, …
}
