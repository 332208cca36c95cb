//! The CLI against peers that misbehave: it must end within its timeout with a clear,
//! one-line reason, never panic, never hang, never allocate what a hostile length claims.
mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{sidecar, Run};
use rocketmq_sidecar::remoting::decode_payload;

/// A listener that runs `serve` on every accepted connection (in a thread) for the test's life.
fn peer(serve: fn(TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

fn read_request(s: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf);
}

/// GET_ALL_TOPIC_CONFIG's request code.
const GET_ALL_TOPIC_CONFIG: i32 = 21;

/// Reads whole remoting frames until the connection closes, answering none, and counts those
/// with request code `code` (whichever header format the sidecar sends).
fn count_requests(s: &mut TcpStream, code: i32, seen: &AtomicUsize) {
    let mut len = [0u8; 4];
    while s.read_exact(&mut len).is_ok() {
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        if s.read_exact(&mut frame).is_err() {
            return;
        }
        if decode_payload(&frame).is_ok_and(|request| request.code == code) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn config_get(addr: &str, timeout: &str) -> Run {
    sidecar(&["config", "get", "--broker", addr, "--timeout", timeout], &[], Duration::from_secs(15))
}

fn assert_one_line_failure(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, Some(1), "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    assert_eq!(run.stderr.trim().lines().count(), 1, "one line: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for n in needles {
        assert!(run.stderr.contains(n), "missing {n:?} in {}", run.stderr);
    }
}

#[test]
fn connection_refused_is_reported_at_once() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = config_get(&format!("127.0.0.1:{port}"), "2s");
    assert_one_line_failure(&run, &["cannot connect to 127.0.0.1:", "refused"]);
    assert!(run.elapsed < Duration::from_secs(1), "{:?}", run.elapsed);
}

#[test]
fn black_hole_times_out_within_the_configured_timeout() {
    let addr = peer(|mut s| {
        read_request(&mut s);
        thread::sleep(Duration::from_secs(60)); // accept, read, never answer
    });
    for (flag, secs) in [("1s", 1.0), ("1500ms", 1.5)] {
        let run = config_get(&addr, flag);
        assert_one_line_failure(&run, &["did not answer GET_BROKER_CONFIG within"]);
        let t = run.elapsed.as_secs_f64();
        assert!(t >= secs * 0.8 && t <= secs * 1.2 + 0.1, "took {t:.3}s for --timeout {flag}");
    }
    // The same for the name-server side.
    let run = sidecar(&["cluster", "--namesrv", &addr, "--timeout", "1s"], &[], Duration::from_secs(15));
    assert_one_line_failure(&run, &["no name server answered", "did not answer GET_BROKER_CLUSTER_INFO"]);
}

#[test]
fn a_stalled_partial_frame_still_times_out() {
    let addr = peer(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(&[0, 0, 0, 100, 0, 0, 0, 10, b'{']); // promises 100 bytes, sends 5
        thread::sleep(Duration::from_secs(60));
    });
    let run = config_get(&addr, "1s");
    assert_one_line_failure(&run, &["did not answer"]);
    assert!(run.elapsed < Duration::from_millis(1400), "{:?}", run.elapsed);
}

#[test]
fn garbage_is_a_protocol_error() {
    let addr = peer(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let run = config_get(&addr, "2s");
    // "HTTP" read as a length is 1.2 GB: refused before any allocation.
    assert_one_line_failure(&run, &["exceeds the 16777216-byte limit", "is this a RocketMQ remoting port?"]);
    assert!(run.elapsed < Duration::from_secs(1));

    let addr = peer(|mut s| {
        read_request(&mut s);
        let header = b"this is not json";
        let mut frame = ((4 + header.len()) as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
        frame.extend_from_slice(header);
        let _ = s.write_all(&frame);
    });
    assert_one_line_failure(&config_get(&addr, "2s"), &["protocol error", "malformed JSON header"]);
}

#[test]
fn oversized_length_is_refused_without_allocating_it() {
    let addr = peer(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(&0x7fff_fff0u32.to_be_bytes());
        thread::sleep(Duration::from_secs(5));
    });
    assert_one_line_failure(&config_get(&addr, "2s"), &["exceeds the 16777216-byte limit"]);
    // A lower --max-frame applies to frames the broker would accept.
    let addr = peer(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(&(2_000_000u32).to_be_bytes());
        thread::sleep(Duration::from_secs(5));
    });
    let run = sidecar(&["config", "get", "--broker", &addr, "--max-frame", "1048576"], &[], Duration::from_secs(15));
    assert_one_line_failure(&run, &["exceeds the 1048576-byte limit"]);
    // Peak memory stays small (GNU time reports max RSS in KiB; scripts/test.sh installs it).
    assert!(std::path::Path::new("/usr/bin/time").exists(), "GNU time is missing: run scripts/test.sh");
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", env!("CARGO_BIN_EXE_rocketmq-sidecar"), "config", "get", "--broker", &addr])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).expect("max RSS");
    assert!(kib < 30 * 1024, "max RSS {kib} KiB");
}

#[test]
fn a_peer_that_hangs_up_is_a_closed_connection() {
    let addr = peer(|mut s| read_request(&mut s)); // reads, then drops the socket
    assert_one_line_failure(
        &config_get(&addr, "2s"),
        &["connection to", "closed before GET_BROKER_CONFIG was answered"],
    );
}

#[test]
fn bad_addresses_and_flags_are_usage_errors_or_clear_failures() {
    let run = sidecar(&["config", "get", "--broker", "no-port-here"], &[], Duration::from_secs(15));
    assert_one_line_failure(&run, &["cannot connect to no-port-here"]);
    let run = sidecar(&["config", "get", "--timeout", "soon"], &[], Duration::from_secs(15));
    assert_eq!(run.code, Some(64));
    assert!(run.stderr.contains("invalid duration"), "{}", run.stderr);
    let run = sidecar(&["cluster"], &[], Duration::from_secs(15));
    assert_eq!(run.code, Some(64));
    assert!(run.stderr.contains("no name server given"), "{}", run.stderr);
}

#[test]
fn help_lists_commands_and_env_vars_without_secret_values() {
    let run = sidecar(
        &["config", "get", "--help"],
        &[("ROCKETMQ_SECRET_KEY", "hidden-secret-123"), ("ROCKETMQ_ACCESS_KEY", "visibleKey")],
        Duration::from_secs(15),
    );
    assert_eq!(run.code, Some(0));
    for needle in ["--broker", "ROCKETMQ_SIDECAR_BROKER", "ROCKETMQ_SIDECAR_NAMESRV", "--secret-key-file", "--timeout"]
    {
        assert!(run.stdout.contains(needle), "missing {needle}");
    }
    assert!(!run.all_output().contains("hidden-secret-123"));
    assert!(run.stderr.contains("ROCKETMQ_SECRET_KEY is deprecated"), "the old name still read: {}", run.stderr);
    let run = sidecar(&["--help"], &[], Duration::from_secs(15));
    assert!(run.stdout.contains("config") && run.stdout.contains("cluster") && run.stdout.contains("Exit codes"));
}

// ---- role probe against a black hole (issue 3) ----

#[test]
fn role_against_a_black_hole_fails_within_its_timeout() {
    let addr = peer(|mut s| {
        read_request(&mut s);
        thread::sleep(Duration::from_secs(60));
    });
    let run = sidecar(&["role", "--broker", &addr, "--timeout", "1s"], &[], Duration::from_secs(15));
    assert_one_line_failure(&run, &["cannot determine the role of broker", "within 1s"]);
    let t = run.elapsed.as_secs_f64();
    assert!((0.8..=1.3).contains(&t), "took {t:.3}s");
}

#[test]
fn serve_against_a_black_hole_reports_unknown_and_answers_fast() {
    let addr = peer(|mut s| {
        read_request(&mut s);
        thread::sleep(Duration::from_secs(60));
    });
    let mut serve = common::Serve::start(&["--broker", &addr, "--interval", "500ms", "--timeout", "1s"]);
    // Before the first check finishes: not ready, role unknown; the endpoints answer at once.
    // "At once" structurally: sooner than the hanging check's 1 s timeout, so no endpoint waited
    // for it (their latency is a benchmark: benches/probes.sh).
    for path in ["/role", "/primary", "/replica", "/health", "/status", "/live", "/ready"] {
        let (_, _, elapsed) = serve.get(path);
        assert!(elapsed < Duration::from_secs(1), "{path} took {elapsed:?}");
    }
    serve.wait_for("/ready", Duration::from_secs(5), |c, _| c == 200);
    // Checks keep hanging until their timeout, the endpoints never wait for them.
    for _ in 0..20 {
        for path in ["/role", "/primary", "/replica", "/health"] {
            let (code, body, elapsed) = serve.get(path);
            assert_eq!(code, 503, "{path}: {body}");
            assert!(elapsed < Duration::from_secs(1), "{path} took {elapsed:?}");
        }
        assert_eq!(serve.get("/live").0, 200);
        thread::sleep(Duration::from_millis(50));
    }
    let status = serve.status();
    assert_eq!(status["role"], "unknown");
    assert!(status["lastError"]["message"].as_str().unwrap().contains("within 1s"), "{status}");
    // SIGTERM stops it promptly and cleanly even while a check is hanging.
    let (code, took) = serve.terminate(Duration::from_secs(3));
    assert_eq!(code, Some(0), "{}", serve.log());
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(serve.log().contains("shutting down"));
}

/// A SIGTERM also ends the HTTP thread, which can finish before serve's main task sees the stop;
/// that must still be a clean shutdown (exit 0), never "the HTTP server stopped on its own".
#[test]
fn sigterm_is_a_clean_stop_however_the_http_thread_and_the_signal_race() {
    let dead =
        format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    for _ in 0..12 {
        let mut serve = common::Serve::start(&["--broker", &dead, "--no-namesrv-check", "--no-broker-metrics"]);
        serve.wait_for("/live", Duration::from_secs(5), |c, _| c == 200);
        let (code, _) = serve.terminate(Duration::from_secs(3));
        assert_eq!(code, Some(0), "{}", serve.log());
        assert!(!serve.log().contains("stopped on its own"), "{}", serve.log());
    }
}

#[test]
fn serve_help_explains_every_endpoint() {
    let run = sidecar(&["serve", "--help"], &[], Duration::from_secs(15));
    assert_eq!(run.code, Some(0));
    for endpoint in
        ["/role", "/status", "/primary", "/master", "/replica", "/slave", "?lag=", "/health", "/live", "/ready"]
    {
        assert!(run.stdout.contains(endpoint), "missing {endpoint}");
    }
    for flag in ["--listen", "ROCKETMQ_SIDECAR_LISTEN", "--interval", "--timeout", "--namesrv"] {
        assert!(run.stdout.contains(flag), "missing {flag}");
    }
}

#[test]
fn logs_off_a_terminal_are_one_json_object_per_line_with_the_checks_span() {
    // A peer that refuses: every check fails fast, so the log has requests, checks and errors.
    let dead =
        format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let mut serve = common::Serve::start(&["--broker", &dead, "--interval", "200ms", "--timeout", "500ms"]);
    // Wait for the event the test reads: a request logged inside a role check (a few checks in).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !serve.log().contains("\"role_check\"") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = serve.terminate(Duration::from_secs(3));
    let log = serve.log();
    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(lines.len() >= 3, "{log}");
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string() && l["target"].is_string(), "{l}");
    }
    let request = lines
        .iter()
        .find(|l| l["fields"]["message"] == "request" && l["span"]["name"] == "role_check")
        .expect("request events at debug, inside the role check's span");
    assert_eq!(request["span"]["broker"], dead.as_str(), "{request}");
    assert!(request["fields"]["took_ms"].is_number() && request["fields"]["request"].is_string(), "{request}");
    // And text on request.
    let run =
        sidecar(&["--log-format", "text", "role", "--broker", &dead, "--log", "debug"], &[], Duration::from_secs(10));
    assert!(run.stderr.lines().any(|l| l.contains("DEBUG") && !l.starts_with('{')), "{}", run.stderr);
}

#[test]
fn connections_over_the_cap_are_closed_at_once_and_serving_goes_on() {
    let dead =
        format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let serve = common::Serve::start(&["--broker", &dead, "--no-broker-metrics"]);
    // 512 connections are served (each waits for its request head); 8 more are over the cap.
    let held: Vec<TcpStream> = (0..520).map(|_| TcpStream::connect(("127.0.0.1", serve.port)).unwrap()).collect();
    // The server closes exactly the 8 over the cap as it accepts them; wait for that to happen.
    let closed = |held: &[TcpStream]| {
        held.iter()
            .filter(|s| {
                s.set_nonblocking(true).unwrap();
                let mut buf = [0u8; 1];
                // Ok(0): closed by the server; WouldBlock: open and waiting.
                let mut stream: &TcpStream = s;
                !matches!(stream.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            })
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while closed(&held) < 8 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(closed(&held), 8, "the 8 connections over the cap of 512 are closed, and only those");
    drop(held);
    serve.wait_for("/live", Duration::from_secs(5), |c, _| c == 200);
}

#[test]
fn broker_asking_requests_over_the_cap_are_refused_busy_at_once_while_probes_answer() {
    // A broker that reads every request, answers none, and counts the topic-table reads.
    static TOPIC_READS: AtomicUsize = AtomicUsize::new(0);
    let hung = peer(|mut s| count_requests(&mut s, GET_ALL_TOPIC_CONFIG, &TOPIC_READS));
    let serve = common::Serve::start(&["--broker", &hung, "--timeout", "3s", "--no-broker-metrics"]);
    // Four seed reads fill the cap: the silent broker holds each until its 3 s request timeout.
    let port = serve.port;
    let held: Vec<_> = (0..4).map(|_| thread::spawn(move || common::http_get(port, "/topicInfo"))).collect();
    // All four are in flight once the broker has their requests; polling before that could
    // take a place under the cap ahead of the fourth.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TOPIC_READS.load(Ordering::SeqCst) < 4 {
        assert!(std::time::Instant::now() < deadline, "the four /topicInfo never reached the broker");
        thread::sleep(Duration::from_millis(20));
    }
    // A fifth broker-asking request is refused at once instead of queueing (/config/applied
    // answers at once when it gets through, so polling it never adds a request to the four).
    let (code, body) = serve.wait_for("/config/applied", Duration::from_secs(10), |_, b| b.contains("busy"));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("4 broker requests already in flight"), "{body}");
    for path in ["/live", "/status", "/metrics"] {
        assert_eq!(serve.get(path).0, 200, "{path} is not behind the cap");
    }
    // The held four end with the broker's timeout, and the cap frees up.
    for h in held {
        let (code, body, _) = h.join().unwrap();
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("cannot read topics.json") && body.contains("within 3s"), "{body}");
    }
    let (code, body) = serve.wait_for("/config/applied", Duration::from_secs(10), |_, b| !b.contains("busy"));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("no --config-file"), "{body}");
}
