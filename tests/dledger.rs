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

    let killed_at = Instant::now();
    g.brokers[first].take().unwrap().kill();
    let (second, elected_at) = wait_master(&samples, Some(first), Duration::from_secs(60));
    let failover = elected_at - killed_at;
    let second_id = format!("n{second}");
    wait_term(&serve, |t, leader| t > first_term && leader == second_id);
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
