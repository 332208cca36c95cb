//! The scale-in guard against real 4.9.6 brokers and the official Java client used the way
//! applications use it: push consumers (CLUSTERING and BROADCASTING, with their own offset-save
//! timing) and a producer that keeps sending through a drain (scripts/java/TestClient.java).
//!
//! Fixture: one name server, broker `broker-c` (the one checked) and `broker-c2` (where producers
//! go once `broker-c` is read-only). Tests take turns; each leaves `broker-c` writable, consumed,
//! and with no offline group lacking offsets (that would make every later check "cannot tell").
//!
//! With GUARD_VS_REMOVE_BROKER=1 each scenario also runs `mqadmin brokerConsumeStats` (what the
//! addon's remove-broker.sh reads) at the moment the guard is asked, and prints a table row.
mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    client, delete_group, routed_topic, scratch, sidecar, start_broker, start_namesrv, BrokerSpec, Helper, Proc, Run,
};

struct Fixture {
    namesrv: Proc,
    broker: Proc,
    other: Proc,
    /// broker-c's subscription groups before any test: what a failed test's leftovers are not.
    first_groups: std::collections::BTreeSet<String>,
    turn: Mutex<()>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = scratch("scale-in-clients");
        let namesrv = start_namesrv(&dir.join("ns"));
        namesrv.wait_ready();
        let ns = namesrv.addr();
        let broker = |sub: &str, name| start_broker(&BrokerSpec::master(dir.join(sub), &ns, name, false));
        let (c, c2) = (broker("c", "broker-c"), broker("c2", "broker-c2"));
        c.wait_ready();
        c2.wait_ready();
        let first_groups = groups_on(&c.addr());
        Fixture { namesrv, broker: c, other: c2, first_groups, turn: Mutex::new(()) }
    })
}

fn groups_on(addr: &str) -> std::collections::BTreeSet<String> {
    use rocketmq_sidecar::{admin::BrokerAdmin, remoting::ClientOptions};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(BrokerAdmin::new(addr, ClientOptions::default()).groups()).expect("group table").into_keys().collect()
}

/// Takes broker-c for one test. After a failed test, broker-c is first put back the way the
/// tests expect it, so one failure is reported once instead of failing every test after it.
fn turn() -> MutexGuard<'static, ()> {
    let turn = &fixture().turn;
    match turn.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            turn.clear_poison();
            clean_up_after_a_failed_test();
            poisoned.into_inner()
        }
    }
}

/// A failed test may leave broker-c read-only (a drain takes the write permission away and only
/// the test's end gives it back) and its groups behind, offline and behind (every later check
/// would block or be "cannot tell"). Its clients ended when the test unwound; the broker re-runs
/// their held long-poll pulls for up to 15 s, and each re-creates its group, so the groups are
/// deleted after that.
fn clean_up_after_a_failed_test() {
    writable_again();
    std::thread::sleep(Duration::from_secs(21));
    let addr = fixture().broker.addr();
    for group in groups_on(&addr).difference(&fixture().first_groups) {
        delete_group(&addr, group);
    }
}

const T: Duration = Duration::from_secs(30);

fn check(extra: &[&str]) -> Run {
    let addr = fixture().broker.addr();
    let mut args = vec!["scale-in", "check", "--broker", addr.as_str()];
    args.extend_from_slice(extra);
    sidecar(&args, &[], T)
}

/// `scale-in check --json` with the write rule off (writes are another test's subject).
fn check_json(extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["--json", "--quiet-window", "0s"];
    args.extend_from_slice(extra);
    let run = check(&args);
    let v = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all_output()));
    (run.code, v)
}

fn rows<'a>(v: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    v["rows"].as_array().unwrap().iter().filter(|r| r["kind"] == kind).collect()
}

fn produce(topic: &str, n: usize, delay_level: u32) {
    let ns = fixture().namesrv.addr();
    let lines = client(&["produce", &ns, topic, &n.to_string(), &delay_level.to_string()]);
    assert_eq!(lines.iter().filter(|l| l.starts_with("ok ")).count(), n, "produce {topic}: {lines:?}");
}

fn push(topic: &str, group: &str, model: &str, opts: &[&str]) -> Helper {
    let ns = fixture().namesrv.addr();
    let mut args = vec!["push", ns.as_str(), topic, group, model, "300"];
    args.extend_from_slice(opts);
    Helper::start(&args)
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// What the addon's remove-broker.sh decides, when GUARD_VS_REMOVE_BROKER=1: it reads `Diff Total`
/// of mqadmin brokerConsumeStats up to three times, one second apart, and proceeds on the first 0.
/// Printed as a table row beside the truth and the guard's answer.
fn compare_with_remove_broker(scenario: &str, truth: &str, guard: &str) {
    if std::env::var("GUARD_VS_REMOVE_BROKER").as_deref() != Ok("1") {
        return;
    }
    let mut diffs = Vec::new();
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let text = common::mqadmin(&["brokerConsumeStats", "-b", &fixture().broker.addr()]);
        let diff = text.lines().find_map(|l| l.trim().strip_prefix("Diff Total:")).map(str::trim).unwrap_or("?");
        diffs.push(diff.to_string());
        if diff == "0" {
            break;
        }
    }
    let decision =
        if diffs.last().map(String::as_str) == Some("0") { "**proceeds** (shard removed)" } else { "blocks" };
    println!("| {scenario} | {truth} | {guard} | Diff Total {}: {decision} |", diffs.join(", "));
}

/// Restores write permission on broker-c (a drain leaves it read-only).
fn writable_again() {
    let addr = fixture().broker.addr();
    let run = sidecar(&["reconfigure", "--broker", &addr, "brokerPermission", "6"], &[], T);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
}

/// Runs `scale-in drain` on broker-c; its stdout lines are collected with the time each was read.
struct Drain {
    child: std::process::Child,
    lines: std::sync::Arc<Mutex<Vec<(SystemTime, String)>>>,
}

/// A test that fails mid-drain ends its drain too (it would keep asking broker-c for two minutes).
impl Drop for Drain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drain {
    fn start(extra: &[&str]) -> Drain {
        use std::io::BufRead;
        let addr = fixture().broker.addr();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rocketmq-sidecar"))
            .args(["scale-in", "drain", "--broker", &addr, "--drain-every", "300ms", "--drain-timeout", "120s"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push((SystemTime::now(), l));
            }
        });
        Drain { child, lines }
    }

    /// When the first line starting with `prefix` was read.
    fn seen(&self, prefix: &str) -> Option<SystemTime> {
        self.lines.lock().unwrap().iter().find(|(_, l)| l.trim_start().starts_with(prefix)).map(|(t, _)| *t)
    }

    fn wait(&mut self, limit: Duration) -> (Option<i32>, String, String) {
        use std::io::Read;
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("drain did not end within {limit:?}: {:?}", self.lines.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        std::thread::sleep(Duration::from_millis(100)); // let the reader take the last lines
        let out: Vec<String> = self.lines.lock().unwrap().iter().map(|(_, l)| l.clone()).collect();
        (status.code(), out.join("\n"), err)
    }
}

#[test]
fn a_new_push_consumer_blocks_until_its_client_has_saved_offsets_in_check_and_in_drain() {
    let _turn = turn();
    let f = fixture();
    routed_topic(&f.namesrv.addr(), &[&f.broker.addr()], "NewGroupTopic", 4);
    produce("NewGroupTopic", 100, 0);
    // The first message is held 4 s, so messages really remain while the guard is asked; the
    // client saves its first offsets ~10 s after it starts.
    let consumer = push("NewGroupTopic", "NewGroup", "CLUSTERING", &["hold=4000"]);
    // Online first: a group no client has announced yet is unknown to the broker, and its topic's
    // messages are nobody's backlog (a CI run's first check came before the client's heartbeat).
    consumer.wait_line("assigned", Duration::from_secs(60));
    let mut drain = Drain::start(&["--quiet-window", "0s"]);
    let started = Instant::now();
    let mut first = None;
    let mut checks = 0;
    loop {
        let before = consumer.lines("msg ").len();
        let (code, v) = check_json(&[]);
        let after = consumer.lines("msg ").len();
        checks += 1;
        if first.is_none() {
            let r = rows(&v, "noOffsetYet");
            assert!(
                r.iter().any(|r| r["group"] == "NewGroup" && r["topic"] == "NewGroupTopic"),
                "before the first save the group counts from each queue's minimum: {v:#}"
            );
            compare_with_remove_broker(
                "new CLUSTERING push consumer, before its first offset save",
                &format!("{} of 100 unconsumed", 100 - before),
                &format!("exit {code:?}, {} blocking (noOffsetYet)", v["blockingMessages"]),
            );
            first = Some(v.clone());
        }
        if code == Some(0) {
            assert_eq!(after, 100, "exit 0 only once every message was consumed (check {checks}): {v:#}");
            break;
        }
        assert_eq!(code, Some(1), "{v:#}");
        assert!(started.elapsed() < Duration::from_secs(60), "never safe after 60 s: {v:#}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(checks >= 5, "checked repeatedly before the first offset save ({checks} checks)");
    let last_msg = consumer.last_time("msg ").expect("consumed");
    let (code, out, err) = drain.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("remaining 100 message(s)"), "drain saw the new group's backlog: {out}");
    let drained = drain.seen("drained in").expect("drained line");
    assert!(drained > last_msg, "drained only after the 100th message was consumed (and saved): {out}");
    writable_again();
    drop(consumer);
}

#[test]
fn broadcast_consumers_block_with_their_own_offsets_and_an_offline_one_cannot_be_told() {
    let _turn = turn();
    let f = fixture();
    routed_topic(&f.namesrv.addr(), &[&f.broker.addr()], "BcTopic", 1);
    // A new BROADCASTING client starts at the end of the queue, so messages come after it.
    let mut consumer = push("BcTopic", "BcGroup", "BROADCASTING", &["hold=20000"]);
    // Its start offset is the end of the queue at its first rebalance: empty only if that came
    // before the messages (a fixed 3 s was once too short beside the 5.x suite's start).
    consumer.wait_line("assigned", Duration::from_secs(60));
    produce("BcTopic", 50, 0);
    // Usually at once. In one clean-clone run on a loaded machine (2026-12-07) nothing came within
    // 20 s, the client printing no error (cause not found); 60 s, as for its start and assignment.
    consumer.wait_line("holding 0 0", Duration::from_secs(60));
    let client_id = consumer.lines("started")[0].trim_start_matches("started ").to_string();

    let (code, v) = check_json(&[]);
    assert_eq!(code, Some(1), "{v:#}");
    let bc = rows(&v, "broadcast");
    assert_eq!(bc.len(), 1, "{v:#}");
    assert_eq!(
        (bc[0]["group"].as_str(), bc[0]["client"].as_str(), bc[0]["messages"].as_u64(), bc[0]["blocks"].as_bool()),
        (Some("BcGroup"), Some(client_id.as_str()), Some(50), Some(true)),
        "exact: the client holds offset 0 of 50: {v:#}"
    );
    compare_with_remove_broker(
        "BROADCASTING push consumer holding its first message",
        "50 unconsumed by that client",
        &format!("exit {code:?}, 50 blocking (broadcast, per client)"),
    );

    // Released: it catches up, and its own offsets say so.
    consumer.wait_count("msg ", 50, Duration::from_secs(40));
    let deadline = Instant::now() + Duration::from_secs(15);
    let v = loop {
        let (code, v) = check_json(&[]);
        if code == Some(0) {
            break v;
        }
        assert!(Instant::now() < deadline, "caught up but still blocked: {v:#}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(rows(&v, "broadcast").is_empty(), "{v:#}");

    // Offline, with its 50 messages still stored: its progress cannot be known.
    consumer.stop();
    let stopped = Instant::now();
    let run = check(&["--quiet-window", "0s"]);
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(run.stderr.contains("BcGroup") && run.stderr.contains("BROADCASTING"), "{}", run.stderr);
    compare_with_remove_broker(
        "BROADCASTING group offline, its messages stored",
        "unknown (progress was on the client)",
        "exit 2, cannot tell",
    );
    let run = check(&["--quiet-window", "0s", "--accept-offline-broadcast-loss"]);
    assert_eq!(run.code, Some(0), "the named risk accepted: {}", run.all_output());
    assert!(run.stdout.contains("note: accepted (--accept-offline-broadcast-loss)"), "{}", run.stdout);
    // The broker re-runs the client's held long-poll pulls (up to 15 s, checked every 5 s) and
    // each re-creates the group; only then can it be deleted for good.
    std::thread::sleep(Duration::from_secs(21).saturating_sub(stopped.elapsed()));
    delete_group(&f.broker.addr(), "BcGroup");
}

#[test]
fn a_groups_clustering_backlog_still_blocks_when_a_broadcast_consumer_shares_its_name() {
    let (_turn, f) = (turn(), fixture());
    let ns = f.namesrv.addr();
    routed_topic(&ns, &[&f.broker.addr()], "MixTopic", 2);
    produce("MixTopic", 4, 0);
    assert_eq!(client(&["consume", &ns, "MixTopic", "MixGroup", "4", "30"]), ["consumed 4"]);
    produce("MixTopic", 7, 0);
    let consumer = push("MixTopic", "MixGroup", "BROADCASTING", &[]);
    consumer.wait_line("assigned", Duration::from_secs(60));
    let (code, v) = check_json(&[]);
    assert_eq!(code, Some(1), "{v:#}");
    let r = rows(&v, "consumer");
    assert!(
        r.iter().any(|r| r["group"] == "MixGroup" && r["messages"] == 7 && r["blocks"] == true),
        "the clustering offsets' 7 still block: {v:#}"
    );
    compare_with_remove_broker(
        "clustering offsets 7 behind, a BROADCASTING consumer of the same group online",
        "7 unconsumed",
        &format!("exit {code:?}, 7 blocking (consumer)"),
    );
    drop(consumer);
    // Consume what the clustering offsets still owe, then leave nothing behind.
    assert_eq!(client(&["consume", &ns, "MixTopic", "MixGroup", "7", "30"]), ["consumed 7"]);
}

#[test]
fn retried_and_delayed_messages_through_push_consumers_block_until_consumed() {
    let _turn = turn();
    let f = fixture();
    routed_topic(&f.namesrv.addr(), &[&f.broker.addr()], "RetryTopic", 2);
    routed_topic(&f.namesrv.addr(), &[&f.broker.addr()], "DelayTopic", 2);
    let retry = push("RetryTopic", "RetryGroup", "CLUSTERING", &["later", "threads=4"]);
    let delayed = push("DelayTopic", "DelayGroup", "CLUSTERING", &["threads=4"]);
    for consumer in [&retry, &delayed] {
        consumer.wait_line("assigned", Duration::from_secs(60));
    }
    produce("RetryTopic", 5, 0);
    produce("DelayTopic", 3, 2); // level 2 = 5 s
    retry.wait_count("later ", 5, Duration::from_secs(20));
    let mut kinds = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut compared = false;
    loop {
        let (retried, delivered) = (retry.lines("msg ").len(), delayed.lines("msg ").len());
        let (code, v) = check_json(&[]);
        if !compared {
            compared = true;
            compare_with_remove_broker(
                "5 messages answered RECONSUME_LATER (waiting to be retried), 3 delayed, push consumers",
                &format!("{} retried and {} delayed message(s) not consumed yet", 5 - retried, 3 - delivered),
                &format!("exit {code:?}, {} blocking (delayed, noOffsetYet, retry)", v["blockingMessages"]),
            );
        }
        for r in v["rows"].as_array().unwrap() {
            kinds.insert(r["kind"].as_str().unwrap().to_string());
        }
        if code == Some(0) {
            let (retried_after, delivered_after) = (retry.lines("msg ").len(), delayed.lines("msg ").len());
            assert_eq!((retried_after, delivered_after), (5, 3), "safe only once all were consumed: {v:#}");
            break;
        }
        assert_eq!(code, Some(1), "{v:#}");
        assert!(Instant::now() < deadline, "never safe: retried {retried}, delivered {delivered}: {v:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(kinds.contains("delayed"), "retries and delayed messages waited in SCHEDULE_TOPIC_XXXX: {kinds:?}");
    for l in retry.lines("msg ") {
        assert!(l.ends_with(" 1"), "consumed on its retry: {l}");
    }
    drop((retry, delayed));
}

/// (time read, broker, queue, offset) of each SEND_OK line of a produce-loop helper.
fn sends(p: &Helper) -> Vec<(i64, String, u32, i64)> {
    p.lines("ok ")
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[1].parse().unwrap(), f[2].to_string(), f[3].parse().unwrap(), f[4].parse().unwrap())
        })
        .collect()
}

#[test]
fn a_producer_with_a_cached_route_is_drained_only_after_its_last_send_ok() {
    let _turn = turn();
    let f = fixture();
    let ns = f.namesrv.addr();
    routed_topic(&ns, &[&f.broker.addr(), &f.other.addr()], "DrainTopic", 4);
    let consumer = push("DrainTopic", "DrainGroup", "CLUSTERING", &["threads=4"]);
    // The default route refresh (30 s): started just now, it sends to broker-c for up to 30 s
    // after the drain takes the write permission away.
    let producer = Helper::start(&["produce-loop", &ns, "DrainTopic", "5", "120"]);
    producer.wait_count("ok ", 5, Duration::from_secs(20));
    let mut drain = Drain::start(&["--quiet-window", "8s"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let read_only = loop {
        if let Some(t) = drain.seen("[") {
            break epoch_ms(t);
        }
        assert!(Instant::now() < deadline, "no progress from the drain");
        std::thread::sleep(Duration::from_millis(50));
    };

    // While it still accepts them, a check says so.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sends(&producer).iter().any(|(t, b, ..)| b == "broker-c" && *t > read_only + 200) {
        assert!(Instant::now() < deadline, "no SEND_OK after read-only: {:?}", producer.lines("ok "));
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = check(&["--quiet-window", "8s"]);
    assert_eq!(run.code, Some(1), "{}", run.all_output());
    assert!(
        run.stderr.contains("still receiving writes") && run.stderr.contains("after the broker went read-only"),
        "{}",
        run.stderr
    );
    compare_with_remove_broker(
        "drain while a producer with a cached route keeps sending",
        "SEND_OK still accepted on the read-only broker",
        "exit 1, still receiving writes",
    );

    let (code, out, err) = drain.wait(Duration::from_secs(120));
    assert_eq!(code, Some(0), "{out}{err}");
    let drained_at = epoch_ms(drain.seen("drained in").expect("drained line"));
    assert!(out.contains("producers still writing:"), "progress names the writes: {out}");
    let drained_line = out.lines().find(|l| l.starts_with("drained in")).expect("drained line");
    assert!(drained_line.contains("the last write landed at"), "{drained_line}");

    std::thread::sleep(Duration::from_secs(5)); // the producer keeps sending, elsewhere
    let all = sends(&producer);
    let on_c: Vec<_> = all.iter().filter(|(_, b, ..)| b == "broker-c").collect();
    let last_ok_c = on_c.iter().map(|(t, ..)| *t).max().unwrap();
    let after_read_only = on_c.iter().filter(|(t, ..)| *t > read_only).count();
    println!(
        "SEND_OK on broker-c after it went read-only: {after_read_only}; drained {} ms after the last",
        drained_at - last_ok_c
    );
    assert!(last_ok_c + 8_000 <= drained_at, "drained only after the last SEND_OK plus the quiet window");
    assert!(on_c.iter().all(|(t, ..)| *t < drained_at), "zero messages accepted after drained");
    assert!(all.iter().any(|(t, b, ..)| b == "broker-c2" && *t > drained_at), "producers went elsewhere");
    // Every message broker-c accepted was consumed before "drained".
    let consumed: std::collections::BTreeSet<(u32, i64)> = consumer
        .lines("msg ")
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[2] == "broker-c" && f[1].parse::<i64>().unwrap() < drained_at)
                .then(|| (f[3].parse().unwrap(), f[4].parse().unwrap()))
        })
        .collect();
    for (_, _, q, off) in &on_c {
        assert!(consumed.contains(&(*q, *off)), "queue {q} offset {off} consumed before drained");
    }
    // Read-only and quiet for the window: the check agrees.
    let run = check(&["--quiet-window", "8s"]);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    writable_again();
    drop((producer, consumer));
}
