//! TLS against real RocketMQ 4.9.6 processes in `tls.server.mode=enforcing` (name server and
//! brokers; certificates made at test time): every command over TLS with ACL signing on top, the
//! advice a plaintext client gets, mutual TLS, each handshake failure as its own error kind in
//! `/status` and the metrics, a CA file rotated under a running `serve`, the HTTPS listener and
//! `--tls auto`. tests/tls5.rs runs the same cases (tests/tls/cases.rs) on 5.5.0.
mod common;

#[macro_use]
#[path = "tls/cases.rs"]
mod cases;

tls_tests!("4.9.6");
