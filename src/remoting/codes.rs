//! Request and response codes of RocketMQ 4.9.6 and 5.x (`RequestCode.java`, `ResponseCode.java`,
//! `RemotingSysResponseCode.java`) that the sidecar uses or reports.

/// Request codes.
pub mod request {
    pub const GET_ALL_TOPIC_CONFIG: i32 = 21;
    pub const UPDATE_BROKER_CONFIG: i32 = 25;
    pub const GET_BROKER_CONFIG: i32 = 26;
    pub const GET_BROKER_RUNTIME_INFO: i32 = 28;
    pub const GET_MAX_OFFSET: i32 = 30;
    /// One commit-log entry by its physical offset (the broker sends the stored bytes).
    pub const VIEW_MESSAGE_BY_ID: i32 = 33;
    pub const GET_ALL_CONSUMER_OFFSET: i32 = 43;
    pub const GET_ALL_DELAY_OFFSET: i32 = 45;
    /// 5.x only: the timer wheel's per-topic count of messages waiting for their delivery time.
    pub const GET_TIMER_METRICS: i32 = 61;
    pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
    pub const GET_BROKER_CLUSTER_INFO: i32 = 106;
    pub const GET_ALL_SUBSCRIPTIONGROUP_CONFIG: i32 = 201;
    pub const GET_TOPIC_STATS_INFO: i32 = 202;
    pub const GET_CONSUMER_CONNECTION_LIST: i32 = 203;
    pub const VIEW_BROKER_STATS_DATA: i32 = 315;
    pub const GET_CONSUMER_RUNNING_INFO: i32 = 307;
    /// Every subscription group's consume stats on the broker in one answer (what `mqadmin
    /// brokerConsumeStats` asks); the broker scans its whole offset table once per group.
    pub const GET_BROKER_CONSUME_STATS: i32 = 317;
    /// 5.x controller: a shard's elected master, its epoch and SyncStateSet.
    pub const CONTROLLER_GET_REPLICA_INFO: i32 = 1004;
}

pub const SUCCESS: i32 = 0;

/// Response codes the sidecar acts on.
pub mod response {
    /// Also what 4.9.6 answers for a statistic it has no item for ("The stats <..> <..> not exist").
    pub const SYSTEM_ERROR: i32 = 1;
    /// 5.3+ ACL 2.0 refusals; also forbidden sends/consumes and black-listed config keys.
    pub const NO_PERMISSION: i32 = 16;
    /// "topic[x] not exist" (GET_TOPIC_STATS_INFO for a topic deleted meanwhile).
    pub const TOPIC_NOT_EXIST: i32 = 17;
    /// "the consumer group[g] not online" (GET_CONSUMER_CONNECTION_LIST).
    pub const CONSUMER_NOT_ONLINE: i32 = 206;
}

/// A human name for a request code, for error messages and metric labels.
pub fn request_name(code: i32) -> &'static str {
    match code {
        14 => "QUERY_CONSUMER_OFFSET",
        21 => "GET_ALL_TOPIC_CONFIG",
        25 => "UPDATE_BROKER_CONFIG",
        26 => "GET_BROKER_CONFIG",
        28 => "GET_BROKER_RUNTIME_INFO",
        30 => "GET_MAX_OFFSET",
        33 => "VIEW_MESSAGE_BY_ID",
        43 => "GET_ALL_CONSUMER_OFFSET",
        45 => "GET_ALL_DELAY_OFFSET",
        61 => "GET_TIMER_METRICS",
        105 => "GET_ROUTEINFO_BY_TOPIC",
        106 => "GET_BROKER_CLUSTER_INFO",
        201 => "GET_ALL_SUBSCRIPTIONGROUP_CONFIG",
        202 => "GET_TOPIC_STATS_INFO",
        203 => "GET_CONSUMER_CONNECTION_LIST",
        205 => "WIPE_WRITE_PERM_OF_BROKER",
        208 => "GET_CONSUME_STATS",
        307 => "GET_CONSUMER_RUNNING_INFO",
        315 => "VIEW_BROKER_STATS_DATA",
        317 => "GET_BROKER_CONSUME_STATS",
        327 => "ADD_WRITE_PERM_OF_BROKER",
        1004 => "CONTROLLER_GET_REPLICA_INFO",
        _ => "REQUEST",
    }
}

/// A human name for a response code.
pub fn response_name(code: i32) -> &'static str {
    match code {
        0 => "SUCCESS",
        1 => "SYSTEM_ERROR",
        2 => "SYSTEM_BUSY",
        3 => "REQUEST_CODE_NOT_SUPPORTED",
        4 => "TRANSACTION_FAILED",
        10 => "FLUSH_DISK_TIMEOUT",
        11 => "SLAVE_NOT_AVAILABLE",
        12 => "FLUSH_SLAVE_TIMEOUT",
        13 => "MESSAGE_ILLEGAL",
        14 => "SERVICE_NOT_AVAILABLE",
        15 => "VERSION_NOT_SUPPORTED",
        16 => "NO_PERMISSION",
        17 => "TOPIC_NOT_EXIST",
        18 => "TOPIC_EXIST_ALREADY",
        19 => "PULL_NOT_FOUND",
        22 => "QUERY_NOT_FOUND",
        24 => "SUBSCRIPTION_NOT_EXIST",
        26 => "SUBSCRIPTION_GROUP_NOT_EXIST",
        206 => "CONSUMER_NOT_ONLINE",
        207 => "CONSUME_MSG_TIMEOUT",
        208 => "NO_MESSAGE",
        215 => "FLOW_CONTROL",
        _ => "UNKNOWN",
    }
}
