//! broker.conf as Java's Properties.load reads it, the broker's config bodies, and validation of
//! every resulting pair against the parameter catalog.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_sidecar::reload::Desired;

fuzz_target!(|data: &[u8]| {
    let _ = rocketmq_sidecar::remoting::properties::parse_config_body(data);
    if let Ok(entries) = rocketmq_sidecar::properties::load(data) {
        let _ = Desired::from_pairs(entries.into_iter().map(|e| (e.key, e.value)));
    }
});
