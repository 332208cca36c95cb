//! The TLS cases, shared by tests/tls.rs (4.9.6) and tests/tls5.rs (5.5.0): each runs against the
//! binary's one TLS cluster (tests/common/tls.rs).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::tls::TlsCluster;
use crate::common::{sidecar, Run, Serve, ACL_ADMIN};

const LIMIT: Duration = Duration::from_secs(30);

/// One `#[test]` per case, each first running the binary at RocketMQ `$version`.
macro_rules! tls_tests {
    ($version:expr) => {
        tls_tests!(@each $version;
            every_command_works_over_tls_with_acl_signing,
            plaintext_against_an_enforcing_broker_says_tls_is_required,
            mutual_tls_needs_a_client_certificate_the_broker_trusts,
            each_handshake_failure_is_its_own_error_kind,
            serve_over_tls_follows_a_rotated_ca_file_without_a_restart,
            serve_listens_over_https_and_follows_a_renewed_certificate,
            auto_falls_back_to_plaintext_only_where_the_port_has_no_tls);
    };
    (@each $version:expr; $($case:ident),*) => {
        $(
            #[test]
            fn $case() {
                common::use_version($version);
                cases::$case();
            }
        )*
    };
}

fn cluster() -> &'static TlsCluster {
    static CLUSTER: OnceLock<TlsCluster> = OnceLock::new();
    CLUSTER.get_or_init(TlsCluster::start)
}

fn acl_env() -> [(&'static str, &'static str); 2] {
    [("ROCKETMQ_SIDECAR_ACCESS_KEY", ACL_ADMIN.0), ("ROCKETMQ_SIDECAR_SECRET_KEY", ACL_ADMIN.1)]
}

fn run(args: &[&str], tls: &[String], env: &[(&str, &str)]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(tls.iter().map(String::as_str));
    sidecar(&all, env, LIMIT)
}

pub fn every_command_works_over_tls_with_acl_signing() {
    let c = cluster();
    let (broker, ns) = (c.acl.addr(), c.namesrv.addr());
    let tls = c.tls_args();
    let env = acl_env();
    // The role, with the name-server cross-check over TLS as well.
    let r = run(&["role", "--broker", &broker, "--namesrv", &ns], &tls, &env);
    assert_eq!((r.code, r.stdout.trim()), (Some(0), "master"), "{}", r.all_output());
    let r = run(&["config", "get", "--broker", &broker], &tls, &env);
    assert_eq!(r.code, Some(0), "{}", r.all_output());
    assert!(r.stdout.contains("brokerName=broker-tls"), "{}", r.stdout);
    let r = run(&["reconfigure", "--broker", &broker, "waitTimeMillsInPullQueue", "4321"], &tls, &env);
    assert_eq!(r.code, Some(0), "{}", r.all_output());
    let r = run(&["config", "get", "--broker", &broker], &tls, &env);
    assert!(r.stdout.contains("waitTimeMillsInPullQueue=4321"), "{}", r.stdout);
    // The guard answers (safe or not yet quiet), never "cannot tell" for want of a connection.
    let r = run(&["scale-in", "check", "--broker", &broker, "--namesrv", &ns], &tls, &env);
    assert!(matches!(r.code, Some(0) | Some(1)), "{}", r.all_output());
    // The name server over TLS lists both brokers (5.x registers them a moment after booting).
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let r = run(&["cluster", "--namesrv", &ns], &tls, &[]);
        assert_eq!(r.code, Some(0), "{}", r.all_output());
        if r.stdout.contains("broker-tls") && r.stdout.contains("broker-mtls") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "both brokers never listed: {}", r.stdout);
        std::thread::sleep(Duration::from_millis(500));
    }
    // The same ACL requests without the secret are refused by ACL, not by TLS.
    let r = run(&["reconfigure", "--broker", &broker, "waitTimeMillsInPullQueue", "4322"], &tls, &[]);
    assert_ne!(r.code, Some(0), "{}", r.all_output());
    assert!(!r.all_output().contains("TLS handshake"), "{}", r.all_output());
}

pub fn plaintext_against_an_enforcing_broker_says_tls_is_required() {
    let c = cluster();
    let r = run(&["role", "--broker", &c.acl.addr(), "--no-namesrv-check"], &[], &acl_env());
    assert_eq!(r.code, Some(1), "{}", r.all_output());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    for needle in ["tls.server.mode=enforcing", "--tls on", "--tls-config"] {
        assert!(r.stderr.contains(needle), "{needle:?} not in: {}", r.stderr);
    }
}

pub fn mutual_tls_needs_a_client_certificate_the_broker_trusts() {
    let c = cluster();
    let broker = c.mtls.addr();
    let r = run(&["role", "--broker", &broker, "--no-namesrv-check"], &c.mtls_args(), &[]);
    assert_eq!((r.code, r.stdout.trim()), (Some(0), "master"), "{}", r.all_output());
    // No client certificate, or one signed by a CA the broker does not trust.
    for tls in [c.tls_args(), c.with_client("other-client")] {
        let r = run(&["role", "--broker", &broker, "--no-namesrv-check"], &tls, &[]);
        assert_eq!(r.code, Some(1), "{}", r.all_output());
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

/// `/status` after the first check: the last error's kind and message.
fn last_error(serve: &Serve) -> (String, String) {
    let (_, body) = serve.wait_for("/status", LIMIT, |_, body| body.contains("\"lastError\":{"));
    let s: serde_json::Value = serde_json::from_str(&body).unwrap();
    let e = &s["lastError"];
    (e["kind"].as_str().unwrap_or("").to_string(), e["message"].as_str().unwrap_or("").to_string())
}

fn serve_with(broker: &str, tls: &[String]) -> Serve {
    serve_metrics(broker, tls, false)
}

/// `serve` with `tls`; with `metrics`, the broker metrics are refreshed too (every 10 s).
fn serve_metrics(broker: &str, tls: &[String], metrics: bool) -> Serve {
    let mut args = vec!["--broker", broker, "--no-namesrv-check", "--metrics-interval", "10s"];
    if !metrics {
        args.push("--no-broker-metrics");
    }
    args.extend(tls.iter().map(String::as_str));
    Serve::start(&args)
}

/// A TCP peer that answers whatever it is sent with an HTTP error (no TLS on that port).
fn plaintext_peer() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    addr
}

/// `openssl s_server` showing the expired certificate (killed on drop).
struct ExpiredPeer(std::process::Child, String);

impl ExpiredPeer {
    fn start(c: &TlsCluster) -> ExpiredPeer {
        let port = crate::common::free_port();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-accept", &port.to_string(), "-cert", &c.certs.path("expired.pem")])
            .args(["-key", &c.certs.path("server.key")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run openssl s_server");
        let addr = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + LIMIT;
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(std::time::Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        ExpiredPeer(child, addr)
    }
}

impl Drop for ExpiredPeer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn each_handshake_failure_is_its_own_error_kind() {
    let c = cluster();
    let with = |extra: &[&str]| -> Vec<String> {
        let mut a = c.tls_args();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let wrong_ca = vec!["--tls".to_string(), "on".into(), "--tls-ca".into(), c.certs.path("other-ca.pem")];
    let expired = ExpiredPeer::start(c);
    let cases: Vec<(String, Vec<String>, &str, &str)> = vec![
        (c.acl.addr(), wrong_ca, "tls_unknown_ca", "--tls-ca"),
        (c.acl.addr(), with(&["--tls-server-name", "wrong.example"]), "tls_name_mismatch", "--tls-server-name"),
        (expired.1.clone(), c.tls_args(), "tls_expired", "renewed"),
        (c.mtls.addr(), c.tls_args(), "tls_client_cert", "--tls-cert"),
        (plaintext_peer(), c.tls_args(), "tls_not_tls", "plaintext"),
    ];
    for (addr, tls, kind, advice) in cases {
        let serve = serve_with(&addr, &tls);
        let (got, message) = last_error(&serve);
        assert_eq!(got, kind, "{message}");
        assert!(message.contains(advice), "{advice:?} not in {message}");
        let (code, role, _) = serve.get("/role");
        assert_eq!(code, 503, "{role}");
        let (_, metrics, _) = serve.get("/metrics");
        assert!(metrics.contains(&format!("kind=\"{kind}\"")), "no {kind} label in:\n{metrics}");
        // The CLI says the same, in one line, and exits 1 (roleProbe: no role).
        let r = run(&["role", "--broker", &addr, "--no-namesrv-check"], &tls, &[]);
        assert_eq!(r.code, Some(1), "{}", r.all_output());
        assert!(r.stderr.contains("TLS handshake with"), "{}", r.stderr);
    }
}

pub fn serve_over_tls_follows_a_rotated_ca_file_without_a_restart() {
    let c = cluster();
    let dir = crate::common::scratch("tls-rotation");
    let ca = dir.join("ca.pem");
    std::fs::copy(c.certs.path("other-ca.pem"), &ca).unwrap();
    let mut tls = c.mtls_args();
    let at = tls.iter().position(|a| a == "--tls-ca").unwrap() + 1;
    tls[at] = ca.display().to_string();
    let serve = serve_metrics(&c.mtls.addr(), &tls, true);
    assert_eq!(last_error(&serve).0, "tls_unknown_ca");
    // cert-manager writes the new file next to the old and renames it into place.
    let next = dir.join("ca.pem.new");
    std::fs::copy(c.certs.path("ca.pem"), &next).unwrap();
    std::fs::rename(&next, &ca).unwrap();
    serve.wait_for("/role", LIMIT, |code, body| code == 200 && body.trim() == "master");
    assert!(serve.log().contains("TLS files changed"), "{}", serve.log());
    // The broker metrics come over the same TLS connection.
    serve.wait_for("/metrics", LIMIT, |_, page| {
        page.lines().any(|l| {
            l.starts_with("rocketmq_sidecar_broker_metrics_last_success_timestamp_seconds") && !l.ends_with(" 0")
        }) && page.contains("rocketmq_broker_tps")
    });
}

/// `curl` over HTTPS trusting `ca`: the status code (0 when the handshake or the request failed).
fn https_status(port: u16, path: &str, ca: &str) -> u16 {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--cacert", ca])
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

pub fn serve_listens_over_https_and_follows_a_renewed_certificate() {
    let c = cluster();
    let dir = crate::common::scratch("https-listener");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::copy(c.certs.path("server.pem"), &cert).unwrap();
    std::fs::copy(c.certs.path("server.key"), &key).unwrap();
    let port = crate::common::free_port();
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let broker = c.mtls.addr();
    let mut args = vec!["--broker", broker.as_str(), "--no-namesrv-check", "--no-broker-metrics"];
    args.extend(["--listen-tls-cert", &cert_s, "--listen-tls-key", &key_s]);
    let tls = c.mtls_args();
    args.extend(tls.iter().map(String::as_str));
    let serve = Serve::spawn_on(&format!("127.0.0.1:{port}"), &args);
    let ca = c.certs.path("ca.pem");
    let wait = |ca: &str, path: &str, want: u16| {
        let deadline = std::time::Instant::now() + LIMIT;
        while https_status(port, path, ca) != want {
            assert!(std::time::Instant::now() < deadline, "https {path} never {want}; log:\n{}", serve.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait(&ca, "/live", 200);
    wait(&ca, "/role", 200);
    // Plain HTTP on the HTTPS port gets no answer.
    assert_eq!(serve.get("/live").0, 0);
    // The certificate is renewed in place (signed by another CA this time): new connections get it.
    let (next_cert, next_key) = (dir.join("tls.crt.new"), dir.join("tls.key.new"));
    std::fs::copy(c.certs.path("other-server.pem"), &next_cert).unwrap();
    std::fs::copy(c.certs.path("other-server.key"), &next_key).unwrap();
    std::fs::rename(&next_key, &key).unwrap();
    std::fs::rename(&next_cert, &cert).unwrap();
    wait(&c.certs.path("other-ca.pem"), "/live", 200);
    assert_eq!(https_status(port, "/live", &ca), 0, "the old CA no longer verifies the renewed certificate");
    assert!(serve.log().contains("listener certificate changed"), "{}", serve.log());
}

pub fn auto_falls_back_to_plaintext_only_where_the_port_has_no_tls() {
    let c = cluster();
    let plain = c.plain.addr();
    // TLS on: the port without TLS hangs up on the ClientHello, said as such.
    let r = run(&["role", "--broker", &plain, "--no-namesrv-check"], &c.tls_args(), &[]);
    assert_eq!(r.code, Some(1), "{}", r.all_output());
    assert!(r.stderr.contains("tls.server.mode=disabled") && r.stderr.contains("--tls auto"), "{}", r.stderr);
    // auto: plaintext on that port, TLS where the peer enforces it.
    let mut auto = c.mtls_args();
    auto[1] = "auto".into();
    let r = run(&["role", "--broker", &plain, "--no-namesrv-check"], &auto, &[]);
    assert_eq!((r.code, r.stdout.trim()), (Some(0), "master"), "{}", r.all_output());
    let r = run(&["role", "--broker", &c.mtls.addr(), "--no-namesrv-check"], &auto, &[]);
    assert_eq!((r.code, r.stdout.trim()), (Some(0), "master"), "{}", r.all_output());
}
