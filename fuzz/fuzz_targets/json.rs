//! The lenient (fastjson-tolerant) JSON parser and every broker body decoder built on it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_sidecar::admin::{
    client_progress_from_body, consumer_connection_from_body, consumer_offsets_from_body, groups_from_body,
    runtime_info_from_body, stats_minute_from_body, topic_offsets_from_body, ClusterInfo,
};
use rocketmq_sidecar::remoting::json;

fuzz_target!(|data: &[u8]| {
    let _ = json::parse(data);
    let _ = ClusterInfo::from_body(data);
    let _ = runtime_info_from_body(data);
    let _ = topic_offsets_from_body(data);
    let _ = consumer_offsets_from_body(data);
    let _ = groups_from_body(data);
    let _ = stats_minute_from_body(data);
    let _ = consumer_connection_from_body(data);
    let _ = client_progress_from_body(data, "b");
});
