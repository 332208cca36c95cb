//! tests/tls.rs on RocketMQ 5.5.0: the same TLS cases against a 5.5.0 name server and brokers in
//! `tls.server.mode=enforcing` (ACL 2.0 on the ACL broker).
mod common;

#[path = "tls/cases.rs"]
mod cases;

const VERSION: &str = "5.5.0";

#[test]
fn every_command_works_over_tls_with_acl_signing() {
    common::use_version(VERSION);
    cases::every_command_works_over_tls_with_acl_signing();
}

#[test]
fn plaintext_against_an_enforcing_broker_says_tls_is_required() {
    common::use_version(VERSION);
    cases::plaintext_against_an_enforcing_broker_says_tls_is_required();
}

#[test]
fn mutual_tls_needs_a_client_certificate_the_broker_trusts() {
    common::use_version(VERSION);
    cases::mutual_tls_needs_a_client_certificate_the_broker_trusts();
}

#[test]
fn each_handshake_failure_is_its_own_error_kind() {
    common::use_version(VERSION);
    cases::each_handshake_failure_is_its_own_error_kind();
}

#[test]
fn serve_over_tls_follows_a_rotated_ca_file_without_a_restart() {
    common::use_version(VERSION);
    cases::serve_over_tls_follows_a_rotated_ca_file_without_a_restart();
}

#[test]
fn serve_listens_over_https_and_follows_a_renewed_certificate() {
    common::use_version(VERSION);
    cases::serve_listens_over_https_and_follows_a_renewed_certificate();
}

#[test]
fn auto_falls_back_to_plaintext_only_where_the_port_has_no_tls() {
    common::use_version(VERSION);
    cases::auto_falls_back_to_plaintext_only_where_the_port_has_no_tls();
}
