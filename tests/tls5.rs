//! tests/tls.rs on RocketMQ 5.5.0: the same TLS cases (tests/tls/cases.rs) against a 5.5.0 name
//! server and brokers in `tls.server.mode=enforcing` (ACL 2.0 on the ACL broker).
mod common;

#[macro_use]
#[path = "tls/cases.rs"]
mod cases;

tls_tests!("5.5.0");
