//! TLS against real RocketMQ 4.9.6 processes in `tls.server.mode=enforcing` (name server and
//! brokers; certificates made at test time): every command over TLS with ACL signing on top, the
//! advice a plaintext client gets, mutual TLS, each handshake failure as its own error kind in
//! `/status` and the metrics, and a CA file rotated under a running `serve`. tests/tls5.rs runs
//! the same on 5.5.0.
mod common;

#[path = "tls/cases.rs"]
mod cases;

#[test]
fn every_command_works_over_tls_with_acl_signing() {
    cases::every_command_works_over_tls_with_acl_signing();
}

#[test]
fn plaintext_against_an_enforcing_broker_says_tls_is_required() {
    cases::plaintext_against_an_enforcing_broker_says_tls_is_required();
}

#[test]
fn mutual_tls_needs_a_client_certificate_the_broker_trusts() {
    cases::mutual_tls_needs_a_client_certificate_the_broker_trusts();
}

#[test]
fn each_handshake_failure_is_its_own_error_kind() {
    cases::each_handshake_failure_is_its_own_error_kind();
}

#[test]
fn serve_over_tls_follows_a_rotated_ca_file_without_a_restart() {
    cases::serve_over_tls_follows_a_rotated_ca_file_without_a_restart();
}

#[test]
fn serve_listens_over_https_and_follows_a_renewed_certificate() {
    cases::serve_listens_over_https_and_follows_a_renewed_certificate();
}

#[test]
fn auto_falls_back_to_plaintext_only_where_the_port_has_no_tls() {
    cases::auto_falls_back_to_plaintext_only_where_the_port_has_no_tls();
}
