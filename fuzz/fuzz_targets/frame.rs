//! Frame splitting and header decoding (JSON and ROCKETMQ binary headers) on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_sidecar::remoting::{decode_payload, split_frame};

fuzz_target!(|data: &[u8]| {
    let _ = split_frame(data, 1 << 20);
    let _ = decode_payload(data);
});
