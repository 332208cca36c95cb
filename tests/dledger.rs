//! RocketMQ 4.9.6 DLedger mode: a three-broker Raft group (`enableDLegerCommitLog`). Three `role`
//! probes side by side never say `master` twice at once through a leader kill; the new master is
//! reported within seconds of the election; `/status` and the metrics show the term and leader, and
//! the term grows with the election.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::roles::{masters, wait_master, watch};
use common::{free_port, scratch, start_broker_with, start_namesrv, BrokerSpec, Proc, Serve};

struct Group {
    _namesrv: Proc,
    ns: String,
    brokers: Vec<Option<Proc>>,
    addrs: Vec<String>,
}

fn start_group() -> Group {
    let dir = scratch("dledger");
    let namesrv = start_namesrv(&dir);
    namesrv.wait_ready();
    let ns = namesrv.addr();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let raft: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let peers = format!(
        "dLegerPeers={}",
        raft.iter().enumerate().map(|(i, p)| format!("n{i}-127.0.0.1:{p}")).collect::<Vec<_>>().join(";")
    );
    let brokers: Vec<Option<Proc>> = (0..3)
        .map(|i| {
            let home = dir.join(format!("b{i}"));
            let spec = BrokerSpec {
                home: home.clone(),
                port: ports[i],
                namesrv: &ns,
                name: "broker-d",
                id: i as u32,
                role: "ASYNC_MASTER",
                acl: false,
            };
            let self_id = format!("dLegerSelfId=n{i}");
            let store = format!("storePathDLedgerCommitLog={}", home.join("store/dledger").display());
            let settings = ["enableDLegerCommitLog=true", "dLegerGroup=broker-d", &peers, &self_id, &store];
            Some(start_broker_with(&spec, &settings))
        })
        .collect();
    for b in brokers.iter().flatten() {
        b.wait_ready();
    }
    let addrs = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    Group { _namesrv: namesrv, ns, brokers, addrs }
}

fn term_and_leader(serve: &Serve) -> (i64, String) {
    let s = serve.status();
    (s["dledgerTerm"].as_i64().unwrap_or(-1), s["dledgerLeader"].as_str().unwrap_or("").to_string())
}

/// Waits until `/status` shows a term and leader that `ok` accepts (during an election the term
/// has grown before a leader is known).
fn wait_term(serve: &Serve, ok: impl Fn(i64, &str) -> bool) {
    serve.wait_for("/status", Duration::from_secs(30), |_, body| {
        let s: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let leader = s["dledgerLeader"].as_str().unwrap_or("");
        s["dledgerTerm"].as_i64().is_some_and(|t| ok(t, leader))
    });
}

#[test]
fn one_master_at_a_time_through_a_leader_kill_with_term_and_leader_shown() {
    let mut g = start_group();
    let stop = Arc::new(AtomicBool::new(false));
    let (samples, watcher) = watch(g.addrs.clone(), g.ns.clone(), stop.clone());
    let (first, _) = wait_master(&samples, None, Duration::from_secs(90));

    // A survivor's sidecar shows the term and leader, in /status and the metrics.
    let survivor = (first + 1) % 3;
    let serve = Serve::start(&["--broker", &g.addrs[survivor], "--namesrv", &g.ns, "--interval", "500ms"]);
    let first_id = format!("n{first}");
    wait_term(&serve, |t, leader| t >= 1 && leader == first_id);
    let (first_term, _) = term_and_leader(&serve);
    let gauge = format!("rocketmq_sidecar_dledger_term {first_term}");
    let (_, page) = serve.wait_for("/metrics", Duration::from_secs(10), |_, b| b.contains(&gauge));
    assert!(page.contains(&format!("rocketmq_sidecar_dledger_leader{{leader=\"n{first}\"}} 1")), "{page}");

    // KubeBlocks >= 1.2: `<role> <term>` before the kill (the kb-1.2 sets' roleProbe).
    let before: Vec<String> = (0..3).map(|i| role_with_version(&g, i)).collect();
    assert_eq!(before[first], format!("master {first_term}"), "{before:?}");

    let killed_at = Instant::now();
    g.brokers[first].take().unwrap().kill();
    let (second, elected_at) = wait_master(&samples, Some(first), Duration::from_secs(60));
    let failover = elected_at - killed_at;
    let second_id = format!("n{second}");
    wait_term(&serve, |t, leader| t > first_term && leader == second_id);
    let (second_term, _) = term_and_leader(&serve);
    a_stale_master_never_wins_on_1_2(&g, first, second, &before, second_term);
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let samples = samples.lock().unwrap();
    for (at, roles) in samples.iter() {
        assert!(masters(roles).len() <= 1, "two masters at once at {:?}: {roles:?}", *at - killed_at);
    }
    eprintln!("DLedger failover on 4.9.6: leader killed -> new master reported in {:.1} s", failover.as_secs_f64());
    assert!(failover < Duration::from_secs(30), "{failover:?}");
}

/// `role --with-version` of broker `i`, retried while its DLedger member has not answered yet.
fn role_with_version(g: &Group, i: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = common::sidecar(
            &["role", "--with-version", "--broker", &g.addrs[i], "--namesrv", &g.ns, "--timeout", "5s"],
            &[],
            Duration::from_secs(20),
        );
        if run.code == Some(0) {
            return run.stdout.trim().to_string();
        }
        assert!(run.stderr.contains("version"), "broker {i}: {}", run.all_output());
        assert!(Instant::now() < deadline, "broker {i}: no version: {}", run.all_output());
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The roleProbe outputs of the failover, fed to a port of KubeBlocks 1.2's role event handling
/// (scripts/go/kbhelper/roleprobe12.go, from controllers/workloads/role_event_handler.go): every pod's
/// answer before the kill, the survivors' after the election, then the killed leader's old
/// `master <term>` once more (a late event, or a probe of a resumed old leader before it learned).
/// With versions the stale master is refused and the new one keeps the label; with the 1.0 single
/// word the same late event would take the label back.
fn a_stale_master_never_wins_on_1_2(g: &Group, first: usize, second: usize, before: &[String], second_term: i64) {
    let after: Vec<(usize, String)> = (0..3).filter(|i| *i != first).map(|i| (i, role_with_version(g, i))).collect();
    assert!(after.contains(&(second, format!("master {second_term}"))), "{after:?}");
    let mut events: Vec<(usize, String)> = before.iter().cloned().enumerate().collect();
    events.extend(after);
    events.push((first, before[first].clone()));
    let run = |strip_version: bool| -> serde_json::Value {
        let lines: String = events
            .iter()
            .map(|(i, out)| {
                let out = if strip_version { out.split(' ').next().unwrap() } else { out.as_str() };
                format!("{}\n", serde_json::json!({"pod": format!("b{i}"), "output": out}))
            })
            .collect();
        let mut child = std::process::Command::new(common::kb::bin("kbhelper"))
            .arg("roleprobe-1.2")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        eprintln!("1.2 role events (versions {}):\n{text}", if strip_version { "stripped" } else { "kept" });
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    };
    let versioned = run(false);
    assert_eq!(versioned["labels"][format!("b{second}")], "master", "{versioned}");
    assert_ne!(versioned["labels"][format!("b{first}")], "master", "{versioned}");
    let single = run(true);
    assert_eq!(single["labels"][format!("b{first}")], "master", "without versions the late event wins: {single}");
}
