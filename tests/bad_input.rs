//! Bad input gets a clear error and changes nothing: malformed broker.conf files (binary junk, a
//! huge file, invalid UTF-8, 10,000 keys, conflicting duplicates), wrong types, out-of-range values,
//! unknown keys, bad addresses and flags. "Changes nothing" is checked with a canary broker address
//! that records every connection: input is rejected before anything is sent. And the HTTP side:
//! unknown paths, other methods, huge headers and slow clients do not starve the probe endpoints.
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{scratch, sidecar, Serve};

/// A listener standing in for the broker: counts connections and never answers.
struct Canary {
    addr: String,
    connections: Arc<AtomicUsize>,
}

fn canary() -> Canary {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            std::mem::forget(conn); // held open, never answered
        }
    });
    Canary { addr, connections }
}

const T: Duration = Duration::from_secs(10);

/// `reconfigure --file` with `content`: exit 2, a message containing every needle, nothing sent.
fn rejected_file(name: &str, content: &[u8], needles: &[&str]) {
    let c = canary();
    let file = scratch(&format!("bad-input-{name}")).join("broker.conf");
    std::fs::write(&file, content).unwrap();
    let r = sidecar(&["reconfigure", "--broker", &c.addr, "--timeout", "1s", "--file", file.to_str().unwrap()], &[], T);
    assert_eq!(r.code, Some(2), "{name}: {}", r.all_output());
    let err = r.stderr.to_lowercase();
    for n in needles {
        assert!(err.contains(&n.to_lowercase()), "{name}: {n:?} not in: {}", r.stderr);
    }
    assert!(r.stderr.len() < 4000, "{name}: the error stays readable ({} bytes)", r.stderr.len());
    assert_eq!(c.connections.load(Ordering::SeqCst), 0, "{name}: the broker was contacted");
}

#[test]
fn malformed_config_files_are_refused_before_anything_is_sent() {
    let mut junk = vec![0u8; 4096];
    let mut x: u32 = 7;
    for b in junk.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    rejected_file("binary-junk", &junk, &["rejected", "nothing sent"]);
    rejected_file("huge", &vec![b'#'; 3 << 20], &["over the", "limit", "nothing sent"]);
    rejected_file("invalid-utf8", b"maxMessageSize=\xff\xfe\n", &["maxMessageSize"]);
    let many: String = (0..10_000).map(|i| format!("customKey{i}=1\n")).collect();
    rejected_file("ten-thousand-keys", many.as_bytes(), &["customKey0", "nothing sent"]);
    rejected_file(
        "conflicting-duplicates",
        b"maxMessageSize=4194304\nmaxMessageSize=5242880\n",
        &["conflicting", "maxMessageSize", "nothing sent"],
    );
    rejected_file("wrong-type", b"traceOn=yes\n", &["traceOn"]);
    rejected_file("out-of-range", b"maxMessageSize=99999999999\n", &["maxMessageSize"]);
    rejected_file("unknown-key", b"maxMesageSize=4194304\n", &["maxMesageSize", "maxMessageSize"]);
    rejected_file("bad-escape", b"traceOn=\\uZZZZ\n", &["line 1"]);
}

#[test]
fn same_value_twice_is_fine_and_reported() {
    let c = canary();
    let file = scratch("bad-input-dup-same").join("broker.conf");
    std::fs::write(&file, "traceOn=true\ntraceOn=true\n").unwrap();
    let r =
        sidecar(&["config", "diff", "--broker", &c.addr, "--timeout", "1s", "--file", file.to_str().unwrap()], &[], T);
    // Valid input: it goes on to ask the (silent) broker, and times out saying so.
    assert_eq!(r.code, Some(1), "{}", r.all_output());
    assert!(r.stderr.contains("did not answer"), "{}", r.stderr);
}

#[test]
fn bad_addresses_env_and_flags_are_clear_errors() {
    for (args, env, needle) in [
        (vec!["role", "--broker", "not-an-address"], vec![], "not-an-address"),
        (vec!["role", "--broker", "127.0.0.1:99999"], vec![], "99999"),
        (vec!["role", "--timeout", "soon"], vec![], "invalid duration"),
        (vec!["role"], vec![("ROCKETMQ_SIDECAR_BROKER", "host.invalid:10911")], "host.invalid"),
        (vec!["role"], vec![("ROCKETMQ_SIDECAR_TIMEOUT", "0s")], "above 0"),
        (vec!["cluster"], vec![("NAMESRV_ADDR", ";;")], "name server"),
        (vec!["serve", "--listen", "nowhere"], vec![], "nowhere"),
        (vec!["role", "--max-frame", "10"], vec![], "too small"),
    ] {
        let r = sidecar(&args, &env, T);
        assert!(matches!(r.code, Some(1) | Some(64)), "{args:?} {env:?}: {}", r.all_output());
        assert!(r.stderr.contains(needle), "{args:?} {env:?}: {needle:?} not in {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: nothing on stdout on failure");
        assert!(r.elapsed < Duration::from_secs(5), "{args:?}: {:?}", r.elapsed);
    }
}

fn raw(port: u16, request: &[u8]) -> (String, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

#[test]
fn http_other_methods_unknown_paths_and_huge_headers() {
    let dead = format!("127.0.0.1:{}", common::free_port());
    let s = Serve::start(&["--broker", &dead, "--interval", "500ms", "--timeout", "500ms"]);
    for path in ["/role", "/status", "/metrics", "/scale-in", "/topicInfo", "/config/applied", "/live"] {
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let (resp, _) = raw(s.port, req.as_bytes());
            assert!(resp.starts_with("HTTP/1.1 405"), "{method} {path}: every endpoint is read-only: {resp}");
        }
    }
    assert_eq!(s.get("/../../etc/passwd").0, 404);
    assert_eq!(s.get("/role%00").0, 404);
    let huge = format!("GET /role HTTP/1.1\r\nHost: x\r\nX-Junk: {}\r\nConnection: close\r\n\r\n", "a".repeat(2 << 20));
    let (resp, took) = raw(s.port, huge.as_bytes());
    assert!(
        !resp.starts_with("HTTP/1.1 200") && !resp.starts_with("HTTP/1.1 503"),
        "a 2 MiB header is refused: {resp:.80}"
    );
    assert!(took < Duration::from_secs(5));
    assert_eq!(s.get("/live").0, 200, "still serving");
}

#[test]
fn slow_clients_do_not_starve_the_probe_endpoints() {
    let dead = format!("127.0.0.1:{}", common::free_port());
    let s = Serve::start(&["--broker", &dead, "--interval", "500ms", "--timeout", "500ms"]);
    // 300 connections that each send half a request and then go quiet (slowloris).
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
            c.write_all(b"GET /role HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            c
        })
        .collect();
    let mut worst = Duration::ZERO;
    for _ in 0..50 {
        let (code, _, took) = s.get("/live");
        assert_eq!(code, 200);
        worst = worst.max(took);
        let (code, _, took) = s.get("/role");
        assert_eq!(code, 503, "unknown: the broker is down");
        worst = worst.max(took);
    }
    // Structural, not a latency goal (that is benches/probes.sh): no answer waited for a slow
    // client's 10 s header timeout, nor for a check's 500 ms one.
    eprintln!("probe endpoints beside 400 slow clients: worst {worst:?}");
    assert!(worst < Duration::from_millis(500), "probe endpoints waited on something: worst {worst:?}");
    drop(idle);
}

/// A bad command line is exit 64 (EX_USAGE) from every subcommand: never 2, which the scale-in
/// commands use for "cannot tell", and never 1 or 3. Nothing is sent.
#[test]
fn every_subcommand_answers_a_bad_command_line_with_exit_64() {
    let c = canary();
    let b = c.addr.as_str();
    let commands: &[&[&str]] = &[
        &["config", "get", "--broker", b],
        &["config", "diff", "--broker", b, "--file", "/dev/null"],
        &["config", "params"],
        &["cluster", "--namesrv", b],
        &["role", "--broker", b],
        &["reconfigure", "--broker", b, "traceOn", "true"],
        &["scale-in", "check", "--broker", b],
        &["scale-in", "drain", "--broker", b],
        &["scale-in", "pre-terminate", "--broker", b],
        &["seed", "--from", "http://127.0.0.1:1", "--data-dir", "/nonexistent"],
        &["serve", "--broker", b],
        &["install", "/nonexistent"],
    ];
    for args in commands {
        for (what, extra) in [("an unknown flag", "--no-such-flag"), ("a malformed duration", "--timeout=soon")] {
            // `config params`, `seed` and `install` take no --timeout: that is an unknown flag to them.
            let mut argv = args.to_vec();
            argv.push(extra);
            let r = sidecar(&argv, &[], T);
            assert_eq!(r.code, Some(64), "{argv:?} ({what}): {}", r.all_output());
            assert!(r.stderr.contains("error:"), "{argv:?}: {}", r.stderr);
            assert!(r.stdout.is_empty(), "{argv:?}: nothing on stdout");
        }
    }
    // A missing required option, a value clap cannot tell is wrong, and an env var that is wrong.
    for (args, env) in [
        (vec!["seed", "--data-dir", "/nonexistent"], vec![]),
        (vec!["cluster"], vec![]),
        (vec!["reconfigure", "--broker", b, "traceOn"], vec![]),
        (vec!["role", "--broker", b], vec![("ROCKETMQ_SIDECAR_TIMEOUT", "soon")]),
    ] {
        let r = sidecar(&args, &env, T);
        assert_eq!(r.code, Some(64), "{args:?} {env:?}: {}", r.all_output());
    }
    assert_eq!(c.connections.load(Ordering::SeqCst), 0, "a bad command line sent nothing");
}

/// Earlier releases' env names still work, with a warning that names the new one; the new name wins.
#[test]
fn old_env_names_work_with_a_deprecation_warning_and_ours_win() {
    let c = canary();
    let r = sidecar(&["cluster", "--timeout", "1s"], &[("NAMESRV_ADDR", c.addr.as_str())], T);
    assert_eq!(r.code, Some(1), "it asked the name server the old name gave: {}", r.all_output());
    assert!(
        r.stderr.contains("NAMESRV_ADDR is deprecated") && r.stderr.contains("ROCKETMQ_SIDECAR_NAMESRV"),
        "{}",
        r.stderr
    );
    let asked = c.connections.load(Ordering::SeqCst);
    assert!(asked >= 1);
    let r = sidecar(
        &["cluster", "--timeout", "1s"],
        &[("NAMESRV_ADDR", "127.0.0.1:1"), ("ROCKETMQ_SIDECAR_NAMESRV", c.addr.as_str())],
        T,
    );
    assert_eq!(r.code, Some(1), "{}", r.all_output());
    assert!(!r.stderr.contains("deprecated") && !r.stderr.contains("127.0.0.1:1:"), "ours wins: {}", r.stderr);
    assert!(c.connections.load(Ordering::SeqCst) > asked, "ours was asked");
    // The addon's pod variable is read without a warning.
    let r =
        sidecar(&["seed", "--from", "http://127.0.0.1:1", "--peer-timeout", "1s"], &[("DATA_DIR", "/nonexistent")], T);
    assert_eq!(r.code, Some(1), "DATA_DIR was taken as --data-dir: {}", r.all_output());
    assert!(!r.stderr.contains("deprecated"), "{}", r.stderr);
}
