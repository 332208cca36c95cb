//! RocketMQ 5.5.0 controller mode: a three-broker group whose master the controller (inside the
//! name server) elects. Three `role` probes, one per broker, run side by side the whole time,
//! the way three sidecars would: never two masters at once, through a master kill and a master
//! pause; the paused old master is never reported master after it resumes; the failover time is
//! measured (README names it). `/status` shows the controller's view.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::roles::{masters, wait_master, watch};
use common::{free_port, scratch, start_broker_with, start_namesrv_with, BrokerSpec, Proc};

const VERSION: &str = "5.5.0";

struct Group {
    _namesrv: Proc,
    ns: String,
    controller: String,
    brokers: Vec<Option<Proc>>,
    specs: Vec<(std::path::PathBuf, u16)>,
}

impl Group {
    fn start() -> Group {
        common::use_version(VERSION);
        let dir = scratch("controller5");
        let (ns_port, raft_port) = (free_port(), free_port());
        let controller = format!("127.0.0.1:{raft_port}");
        let peers = format!("controllerDLegerPeers=n0-{controller}");
        let store = format!("controllerStorePath={}", dir.join("controller").display());
        let settings = [
            "enableControllerInNamesrv=true",
            "controllerDLegerGroup=g1",
            peers.as_str(),
            "controllerDLegerSelfId=n0",
            store.as_str(),
            "mappedFileSize=67108864",
        ];
        let namesrv = start_namesrv_with(&dir, ns_port, &settings);
        namesrv.wait_ready();
        let ns = namesrv.addr();
        let specs: Vec<_> = (1..=3).map(|i| (dir.join(format!("b{i}")), free_port())).collect();
        let mut g = Group { _namesrv: namesrv, ns, controller, brokers: Vec::new(), specs };
        g.brokers = (0..3).map(|i| Some(g.start_broker(i))).collect();
        for b in g.brokers.iter().flatten() {
            b.wait_ready();
        }
        g
    }

    /// Broker `i` (0-based) of group `broker-c`; every one starts as a slave and the controller
    /// elects the master. Its store survives a restart.
    fn start_broker(&self, i: usize) -> Proc {
        let (home, port) = &self.specs[i];
        let spec = BrokerSpec {
            home: home.clone(),
            port: *port,
            namesrv: &self.ns,
            name: "broker-c",
            id: i as u32 + 1,
            role: "SLAVE",
            acl: false,
        };
        let controller = format!("controllerAddr={}", self.controller);
        let epoch = format!("storePathEpochFile={}", home.join("store/epochFileCheckpoint").display());
        start_broker_with(&spec, &["enableControllerMode=true", &controller, &epoch, "allAckInSyncStateSet=false"])
    }

    fn addrs(&self) -> Vec<String> {
        self.specs.iter().map(|(_, port)| format!("127.0.0.1:{port}")).collect()
    }
}

#[test]
fn one_master_at_a_time_through_a_master_kill_and_a_master_pause() {
    let mut g = Group::start();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (samples, watcher) = watch(g.addrs(), g.ns.clone(), stop.clone());
    let (first, _) = wait_master(&samples, None, Duration::from_secs(90));
    let first_epoch = status_shows_the_controllers_view(&g.addrs()[first], &g.ns);

    // 1. The master is killed: another is elected.
    let killed_at = Instant::now();
    g.brokers[first].take().unwrap().kill();
    let (second, elected_at) = wait_master(&samples, Some(first), Duration::from_secs(90));
    let kill_failover = elected_at - killed_at;
    // The killed broker comes back (same store), as a slave.
    g.brokers[first] = Some(g.start_broker(first));
    g.brokers[first].as_ref().unwrap().wait_ready();

    // 2. The new master is paused: another is elected; resumed, the old one is never master.
    // Only SyncStateSet members may take over, and the set restarts from the new master alone:
    // wait until the others caught up with it again (else no election is possible, and rightly
    // no master is reported).
    let second_epoch = status_shows_the_controllers_view(&g.addrs()[second], &g.ns);
    assert!(second_epoch > first_epoch, "the epoch grows with the election: {first_epoch} -> {second_epoch}");
    let paused = g.brokers[second].as_ref().unwrap();
    let paused_at = Instant::now();
    paused.signal("-STOP");
    let (third, elected_at) = wait_master(&samples, Some(second), Duration::from_secs(90));
    let pause_failover = elected_at - paused_at;
    let resumed_at = Instant::now();
    paused.signal("-CONT");
    std::thread::sleep(Duration::from_secs(15));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();

    let samples = samples.lock().unwrap();
    for (at, roles) in samples.iter() {
        assert!(masters(roles).len() <= 1, "two masters at once at {:?}: {roles:?}", *at - killed_at);
    }
    let after_resume: Vec<&Vec<String>> = samples.iter().filter(|(at, _)| *at >= resumed_at).map(|(_, r)| r).collect();
    assert!(after_resume.len() >= 10, "too few samples after the resume");
    assert!(after_resume.iter().all(|r| r[second] != "master"), "the paused old master came back as master");
    assert_eq!(after_resume.last().unwrap()[third], "master");
    assert_eq!(after_resume.last().unwrap()[second], "slave", "demoted once it asked its controller");
    eprintln!(
        "controller-mode failover on {VERSION}: master killed -> new master reported in {:.1} s; \
         master paused -> {:.1} s ({} samples)",
        kill_failover.as_secs_f64(),
        pause_failover.as_secs_f64(),
        samples.len()
    );
    assert!(kill_failover < Duration::from_secs(60) && pause_failover < Duration::from_secs(60));
}

/// `/status` on the master shows the controller's view of the shard: the elected master, its
/// epoch and the SyncStateSet, which grows to all three brokers once the slaves caught up (only
/// its members may be elected, so the test waits for that before it fails the master). Returns the
/// epoch, which `/role?version=true` prints after the role.
fn status_shows_the_controllers_view(master: &str, ns: &str) -> i64 {
    let serve = common::Serve::start(&["--broker", master, "--namesrv", ns, "--interval", "500ms"]);
    let (_, body) = serve.wait_for("/status", Duration::from_secs(90), |code, body| {
        code == 200 && body.contains("syncStateSet") && {
            let s: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            s["controller"]["syncStateSet"].as_array().is_some_and(|set| set.len() == 3)
        }
    });
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["role"], "master", "{status:#}");
    assert_eq!(status["controller"]["masterAddr"], master, "{status:#}");
    let epoch = status["controller"]["masterEpoch"].as_i64().unwrap();
    assert!(epoch >= 1, "{status:#}");
    // KubeBlocks >= 1.2 (the kb-1.2/http set): `<role> <master epoch>`.
    let (code, role, _) = serve.get("/role?version=true");
    assert_eq!((code, role.trim()), (200, format!("master {epoch}").as_str()));
    epoch
}
