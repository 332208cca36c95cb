//! The config reloader against real 4.9.6 brokers (its own name server, a plain broker and an
//! ACL broker; the tests change broker config, so they take turns through a lock).
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::{scratch, sidecar, start_broker, start_namesrv, BrokerSpec, Proc, Serve, ACL_ADMIN, ACL_READER};
use rocketmq_sidecar::admin::BrokerAdmin;
use rocketmq_sidecar::params::{alternative, Effect, Scope, CATALOG};
use rocketmq_sidecar::reload::GUARD_OWNED;
use rocketmq_sidecar::remoting::ClientOptions;

struct Fixture {
    dir: PathBuf,
    namesrv: Proc,
    broker: Mutex<Proc>,
    broker_home: PathBuf,
    broker_port: u16,
    acl: Proc,
    /// broker.conf as written before any test ran (restored to simulate "restarted on its old file").
    pristine_conf: Vec<u8>,
    turn: Mutex<()>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = scratch("reload");
        let namesrv = start_namesrv(&dir);
        namesrv.wait_ready();
        let ns = namesrv.addr();
        let (home, port) = (dir.join("broker"), common::free_port());
        let spec = |home: PathBuf, port, name, acl| BrokerSpec {
            home,
            port,
            namesrv: &ns,
            name,
            id: 0,
            role: "ASYNC_MASTER",
            acl,
        };
        let broker = start_broker(&spec(home.clone(), port, "broker-r", false));
        let acl = start_broker(&spec(dir.join("acl"), common::free_port(), "broker-racl", true));
        broker.wait_ready();
        acl.wait_ready();
        let pristine_conf = std::fs::read(home.join("broker.conf")).unwrap();
        Fixture {
            dir,
            namesrv,
            broker: Mutex::new(broker),
            broker_home: home,
            broker_port: port,
            acl,
            pristine_conf,
            turn: Mutex::new(()),
        }
    })
}

fn turn() -> MutexGuard<'static, ()> {
    fixture().turn.lock().unwrap_or_else(|p| p.into_inner())
}

fn broker_addr() -> String {
    format!("127.0.0.1:{}", fixture().broker_port)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn admin(addr: &str) -> BrokerAdmin {
    BrokerAdmin::new(addr, ClientOptions { request_timeout: Duration::from_secs(3), ..ClientOptions::default() })
}

/// The broker's config and its version counter (one per update request).
fn config(addr: &str) -> (BTreeMap<String, String>, u64) {
    let (c, v) = rt().block_on(admin(addr).config_versioned()).unwrap();
    (c, v.expect("broker sends a config version").counter as u64)
}

fn write_file(path: &Path, pairs: &[(String, String)]) {
    let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn status_reload(serve: &Serve) -> serde_json::Value {
    serve.status()["reload"].clone()
}

fn wait_reload(
    serve: &Serve,
    limit: Duration,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let r = status_reload(serve);
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: not reached in {limit:?}: {r:#}\nlog:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn serve_with_file(file: &Path, extra: &[&str]) -> Serve {
    let addr = broker_addr();
    let file = file.to_str().unwrap();
    let mut args = vec!["--broker", addr.as_str(), "--interval", "1s", "--config-file", file];
    args.extend_from_slice(extra);
    Serve::start(&args)
}

#[test]
fn every_dynamic_parameter_changed_in_one_file_change_is_one_request_and_reads_back() {
    let f = fixture();
    let _turn = turn();
    let addr = broker_addr();
    let dir = f.dir.join("all-params");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broker.conf");
    write_file(&file, &[]);
    let serve = serve_with_file(&file, &["--reload-interval", "60s"]);
    wait_reload(&serve, Duration::from_secs(10), "first pass", |r| r["lastOutcome"] == "unchanged");

    let (before, version_before) = config(&addr);
    let mut desired = Vec::new();
    for p in CATALOG.iter().filter(|p| p.scope == Scope::Dyn) {
        let live = before.get(p.name).cloned().unwrap_or_else(|| p.default.to_string());
        desired.push(kv(p.name, alternative(p, &live)));
    }
    write_file(&file, &desired);
    let r = wait_reload(&serve, Duration::from_secs(10), "apply", |r| r["updatesSent"] == 1);
    assert_eq!(r["lastOutcome"], "applied", "{r:#}");

    let (after, version_after) = config(&addr);
    assert_eq!(version_after, version_before + 1, "exactly one updateBrokerConfig request");
    let mut sent = 0;
    for (key, want) in &desired {
        let p = CATALOG.iter().find(|p| p.name == key).unwrap();
        if GUARD_OWNED.contains(&p.name) {
            // The scale-in guard's key: a file never changes it.
            assert_eq!(after.get(key), before.get(key), "{key} is never taken from a file");
        } else if p.sendable() {
            sent += 1;
            assert_eq!(after.get(key), Some(want), "{key} read back");
        } else if p.effect != Effect::Absent {
            assert_eq!(after.get(key), before.get(key), "{key} must not be sent live");
        }
    }
    assert_eq!(r["lastApplied"].as_array().unwrap().len(), sent, "{r:#}");
    let restart: Vec<&str> =
        r["restartRequired"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(
        restart,
        ["flushDiskType", "mappedFileSizeCommitLog", "mappedFileSizeConsumeQueue", "transientStorePoolEnable"],
        "hazardous ones reported, never sent"
    );
    assert!(!r["storedPendingRestart"].as_array().unwrap().is_empty(), "persisted-only ones are flagged: {r:#}");
    eprintln!("sent {sent} values in one request; restart required: {restart:?}");

    // Unchanged file on the next pass: nothing sent.
    drop(serve);
    let run =
        sidecar(&["config", "diff", "--broker", &addr, "--file", file.to_str().unwrap()], &[], Duration::from_secs(10));
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(run.stdout.contains("nothing to send"), "{}", run.stdout);
    assert!(run.stdout.contains("restart  flushDiskType"), "{}", run.stdout);
    assert!(run.stdout.contains("ignored  autoMessageVersionOnTopicLen"), "{}", run.stdout);
}

#[test]
fn one_invalid_value_among_twenty_changes_nothing_and_names_the_key() {
    let f = fixture();
    let _turn = turn();
    let addr = broker_addr();
    let (before, version_before) = config(&addr);
    let live: Vec<_> = CATALOG.iter().filter(|p| p.effect == Effect::Live && p.scope == Scope::Dyn).take(20).collect();
    let mut pairs: Vec<(String, String)> =
        live.iter().map(|p| kv(p.name, alternative(p, before.get(p.name).map_or(p.default, |v| v)))).collect();
    pairs.insert(10, kv("maxMessageSize", "4MB"));
    let file = f.dir.join("invalid.conf");
    write_file(&file, &pairs);

    let run =
        sidecar(&["reconfigure", "--broker", &addr, "--file", file.to_str().unwrap()], &[], Duration::from_secs(10));
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(
        run.stderr.contains("invalid value \"4MB\" for `maxMessageSize`: expected a 32-bit integer"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing reported as applied: {}", run.stdout);
    let (after, version_after) = config(&addr);
    assert_eq!(version_after, version_before, "no update request was sent");
    for (key, _) in &pairs {
        assert_eq!(after.get(key), before.get(key), "{key} unchanged");
    }

    // The same through serve: rejected, visible in /status, broker untouched.
    let serve = serve_with_file(&file, &[]);
    let r = wait_reload(&serve, Duration::from_secs(10), "rejected", |r| r["lastOutcome"] == "rejected");
    assert!(r["lastDetail"].as_str().unwrap().contains("maxMessageSize"), "{r:#}");
    assert_eq!(r["updatesSent"], 0);
    assert_eq!(config(&addr).1, version_before);
}

#[test]
fn static_and_hazardous_parameters_are_never_sent_live() {
    let _turn = turn();
    let addr = broker_addr();
    let (before, version) = config(&addr);
    let port = before["listenPort"].parse::<u32>().unwrap() + 100;
    let to = |k: &str, v: String| sidecar(&["reconfigure", "--broker", &addr, k, &v], &[], Duration::from_secs(10));
    let run = to("listenPort", port.to_string());
    assert_eq!(run.code, Some(3), "{}", run.all_output());
    assert!(run.stdout.contains("restart  listenPort") && run.stdout.contains("restart required"), "{}", run.stdout);
    assert!(run.stderr.contains("after a broker restart"), "{}", run.stderr);
    let run = to("flushDiskType", "SYNC_FLUSH".into());
    assert_eq!(run.code, Some(3), "{}", run.all_output());
    assert!(run.stdout.contains("never sent live: ASYNC_FLUSH→SYNC_FLUSH"), "{}", run.stdout);
    let run = sidecar(
        &["reconfigure", "--broker", &addr, "--restart-ok", "brokerName", "other"],
        &[],
        Duration::from_secs(10),
    );
    assert_eq!(run.code, Some(0), "--restart-ok: {}", run.all_output());
    let (after, v2) = config(&addr);
    assert_eq!(v2, version, "nothing sent");
    assert_eq!((&after["listenPort"], &after["flushDiskType"]), (&before["listenPort"], &before["flushDiskType"]));
}

#[test]
fn reconfigure_cli_is_a_drop_in_with_distinct_exit_codes() {
    let _turn = turn();
    let addr = broker_addr();
    let t = Duration::from_secs(10);
    let (before, v0) = config(&addr);
    let size: i64 = before["maxMessageSize"].parse().unwrap();
    let new = (size + 7).to_string();

    // --dry-run: the diff, nothing sent.
    let run = sidecar(&["reconfigure", "--broker", &addr, "--dry-run", "maxMessageSize", &new], &[], t);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(run.stdout.contains(&format!("change   maxMessageSize {size} -> {new}  [live]")), "{}", run.stdout);
    assert_eq!(config(&addr).1, v0);

    // The addon's form: KEY VALUE. Applied, verified, exit 0; a second run sends nothing.
    let run = sidecar(&["reconfigure", "--broker", &addr, "maxMessageSize", &new], &[], t);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(run.stdout.contains("verified by reading back"), "{}", run.stdout);
    let (after, v1) = config(&addr);
    assert_eq!((after["maxMessageSize"].as_str(), v1), (new.as_str(), v0 + 1));
    let run = sidecar(&["reconfigure", "--broker", &addr, "maxMessageSize", &format!("0{new}")], &[], t);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(run.stdout.contains("nothing to send"), "normalised 0N == N: {}", run.stdout);
    assert_eq!(config(&addr).1, v1);

    // Several at once, --set and pairs together, persisted-only → exit 3 but applied.
    let trace = if after["traceOn"] == "true" { "false" } else { "true" };
    let threads = if after["sendMessageThreadPoolNums"] == "7" { "8" } else { "7" };
    let set_trace = format!("traceOn={}", trace.to_uppercase());
    let run = sidecar(
        &["reconfigure", "--broker", &addr, "--set", &set_trace, "sendMessageThreadPoolNums", threads, "--json"],
        &[],
        t,
    );
    assert_eq!(run.code, Some(3), "{}", run.all_output());
    let j: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(j["applied"], true);
    assert_eq!(j["send"].as_array().unwrap().len(), 2, "{j:#}");
    let (after, v2) = config(&addr);
    assert_eq!((after["traceOn"].as_str(), after["sendMessageThreadPoolNums"].as_str(), v2), (trace, threads, v1 + 1));

    // Invalid input → 2 with the closest key; broker unreachable → 1; odd arguments → 64 (usage).
    let run = sidecar(&["reconfigure", "--broker", &addr, "maxMesageSize", "1"], &[], t);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("did you mean `maxMessageSize`"), "{}", run.stderr);
    let run = sidecar(&["reconfigure", "--broker", &addr, "traceOn", "yes"], &[], t);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("silently read anything else as false"), "{}", run.stderr);
    let run = sidecar(&["reconfigure", "--broker", &addr, "traceOn"], &[], t);
    assert_eq!(run.code, Some(64), "{}", run.all_output());
    let dead = format!("127.0.0.1:{}", common::free_port());
    let run = sidecar(&["reconfigure", "--broker", &dead, "--timeout", "1s", "traceOn", "true"], &[], t);
    assert_eq!(run.code, Some(1), "{}", run.all_output());
    assert_eq!(config(&addr).1, v2);
}

#[test]
fn configmap_symlink_swap_applies_within_2s_and_a_burst_applies_once() {
    let f = fixture();
    let _turn = turn();
    let addr = broker_addr();
    // The layout kubelet gives a ConfigMap volume: broker.conf -> ..data/broker.conf, ..data -> ..<timestamp>.
    let dir = f.dir.join("configmap");
    let version_dir = |n: u32| dir.join(format!("..2026_11_25_{n}"));
    std::fs::create_dir_all(version_dir(1)).unwrap();
    let base: i64 = config(&addr).0["waitTimeMillsInPullQueue"].parse().unwrap();
    write_file(&version_dir(1).join("broker.conf"), &[kv("waitTimeMillsInPullQueue", base)]);
    std::os::unix::fs::symlink("..2026_11_25_1", dir.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/broker.conf", dir.join("broker.conf")).unwrap();
    let serve = serve_with_file(&dir.join("broker.conf"), &["--reload-interval", "60s"]);
    wait_reload(&serve, Duration::from_secs(10), "first pass", |r| r["lastOutcome"] == "unchanged");

    // Swap the way kubelet does: new dir, new ..data_tmp symlink, rename over ..data.
    std::fs::create_dir_all(version_dir(2)).unwrap();
    write_file(&version_dir(2).join("broker.conf"), &[kv("waitTimeMillsInPullQueue", base + 1)]);
    std::os::unix::fs::symlink("..2026_11_25_2", dir.join("..data_tmp")).unwrap();
    let swapped = Instant::now();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    let want = (base + 1).to_string();
    while config(&addr).0["waitTimeMillsInPullQueue"] != want {
        assert!(swapped.elapsed() < Duration::from_secs(2), "not applied within 2 s:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("symlink swap applied after {:?}", swapped.elapsed());
    // The broker holds the value before the reloader has read it back and recorded the outcome.
    let r = wait_reload(&serve, Duration::from_secs(3), "swap recorded", |r| r["updatesSent"].as_u64() >= Some(1));
    let sent = r["updatesSent"].as_u64().unwrap();
    assert_eq!(sent, 1, "one apply for one swap: {r:#}");

    // A burst of 10 writes within 100 ms (editor-style rename-writes): one apply, of the last value.
    let target = version_dir(2).join("broker.conf");
    // The debounce (200 ms, serve's default) restarts at every write: writes closer together than
    // that are one apply. A loaded machine may stretch a gap past it; then the burst is several
    // bursts, and the test counts them instead of failing on a clock.
    const DEBOUNCE: Duration = Duration::from_millis(200);
    let (mut last_write, mut bursts) = (Instant::now(), 1u64);
    for i in 2..12 {
        write_file(&target, &[kv("waitTimeMillsInPullQueue", base + i)]);
        if i > 2 && last_write.elapsed() >= DEBOUNCE {
            bursts += 1;
        }
        last_write = Instant::now();
        std::thread::sleep(Duration::from_millis(8));
    }
    let last = (base + 11).to_string();
    let r = wait_reload(&serve, Duration::from_secs(3), "burst applied", |r| r["updatesSent"].as_u64() > Some(sent));
    // Checking that something does NOT happen needs an observation window (no condition to wait
    // on): a second apply would come within one debounce of the last write.
    std::thread::sleep(Duration::from_millis(800));
    let r2 = status_reload(&serve);
    let applies = r2["updatesSent"].as_u64().unwrap() - sent;
    assert!(applies >= 1 && applies <= bursts, "{applies} applies for {bursts} burst(s) of writes: {r:#} {r2:#}");
    if bursts == 1 {
        assert_eq!(applies, 1, "one apply for the burst: {r:#} {r2:#}");
    }
    assert_eq!(config(&addr).0["waitTimeMillsInPullQueue"], last);

    // Delete and re-create the file: still watched.
    std::fs::remove_file(&target).unwrap();
    // A missing file is an error, not an empty config.
    wait_reload(&serve, Duration::from_secs(3), "missing file reported", |r| r["lastOutcome"] == "error");
    write_file(&target, &[kv("waitTimeMillsInPullQueue", base)]);
    let base_s = base.to_string();
    let deadline = Instant::now() + Duration::from_secs(2);
    while config(&addr).0["waitTimeMillsInPullQueue"] != base_s {
        assert!(Instant::now() < deadline, "re-created file not applied:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_broker_restarted_on_its_old_config_gets_the_desired_values_back() {
    let f = fixture();
    let _turn = turn();
    let addr = broker_addr();
    let file = f.dir.join("restart.conf");
    let (before, _) = config(&addr);
    let wait_send: i64 = before["waitTimeMillsInSendQueue"].parse().unwrap();
    let desired = [kv("waitTimeMillsInSendQueue", wait_send + 11), kv("longPollingEnable", "false")];
    write_file(&file, &desired);
    let serve = serve_with_file(&file, &["--reload-interval", "1s"]);
    wait_reload(&serve, Duration::from_secs(10), "applied", |r| {
        r["lastOutcome"] == "applied" || r["lastOutcome"] == "unchanged"
    });

    // Stop the broker, put its original broker.conf back (what a pod restart on the old file
    // looks like), start it again.
    let sent_before = status_reload(&serve)["updatesSent"].as_u64().unwrap();
    let mut broker = f.broker.lock().unwrap();
    broker.stop();
    std::fs::write(f.broker_home.join("broker.conf"), &f.pristine_conf).unwrap();
    let ns = f.namesrv.addr();
    let spec = BrokerSpec {
        home: f.broker_home.clone(),
        port: f.broker_port,
        namesrv: &ns,
        name: "broker-r",
        id: 0,
        role: "ASYNC_MASTER",
        acl: false,
    };
    *broker = start_broker(&spec);
    broker.wait_ready();
    let ready = Instant::now();
    let matches = || {
        let c = config(&addr).0;
        desired.iter().all(|(k, v)| c.get(k) == Some(v))
    };
    while !matches() {
        assert!(ready.elapsed() < Duration::from_secs(5), "not re-applied within 5 s of the restart:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("re-applied {:?} after the broker answered again", ready.elapsed());
    let sent_after = status_reload(&serve)["updatesSent"].as_u64().unwrap();
    assert!(sent_after > sent_before, "the values came back through a new update: {sent_before} -> {sent_after}");
}

#[test]
fn acl_broker_admin_key_applies_and_a_non_admin_key_changes_nothing() {
    let f = fixture();
    let addr = f.acl.addr();
    let t = Duration::from_secs(10);
    let env = |(ak, sk): (&'static str, &'static str)| {
        [("ROCKETMQ_SIDECAR_ACCESS_KEY", ak), ("ROCKETMQ_SIDECAR_SECRET_KEY", sk)]
    };
    let read = || {
        let run = sidecar(&["config", "get", "--broker", &addr, "--json"], &env(ACL_ADMIN), t);
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()["regionId"].as_str().unwrap().to_string()
    };
    let run = sidecar(&["reconfigure", "--broker", &addr, "regionId", "AclRegion1"], &env(ACL_ADMIN), t);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert_eq!(read(), "AclRegion1");

    let run = sidecar(&["reconfigure", "--broker", &addr, "regionId", "AclRegion2"], &env(ACL_READER), t);
    assert_eq!(run.code, Some(1), "{}", run.all_output());
    assert!(
        run.stderr.contains("nothing applied") && run.stderr.contains("Need admin permission for request code=25"),
        "{}",
        run.stderr
    );
    assert!(!run.all_output().contains(ACL_READER.1), "secret never printed");
    assert_eq!(read(), "AclRegion1");
}

/// Why flushDiskType is never sent live, shown on a throwaway broker: after a live
/// ASYNC_FLUSH -> SYNC_FLUSH update (sent raw, around our validation), every send fails although
/// the message is stored, so producers' retries duplicate messages.
#[test]
fn evidence_live_flush_disk_type_change_breaks_sends_but_stores_the_message() {
    // Its own name server, so the producer can only route to this broker.
    let dir = scratch("throwaway");
    let namesrv = start_namesrv(&dir);
    namesrv.wait_ready();
    let ns = namesrv.addr();
    let spec = BrokerSpec {
        home: dir.join("broker"),
        port: common::free_port(),
        namesrv: &ns,
        name: "broker-throwaway",
        id: 0,
        role: "ASYNC_MASTER",
        acl: false,
    };
    let broker = start_broker(&spec);
    broker.wait_ready();
    let addr = broker.addr();
    let before = common::client(&["produce", &ns, "HazardTopic", "2"]);
    assert!(before.iter().all(|l| l.starts_with("ok ")), "{before:?}");

    let rt = rt();
    let raw = admin(&addr);
    let offset = || rt.block_on(raw.runtime_info()).unwrap()["commitLogMaxOffset"].parse::<u64>().unwrap();
    let stored_before = offset();
    let pairs: BTreeMap<String, String> = [("flushDiskType".to_string(), "SYNC_FLUSH".to_string())].into();
    rt.block_on(raw.update_config(&pairs)).unwrap();
    let after = common::client(&["produce", &ns, "HazardTopic", "2"]);
    assert!(after.iter().all(|l| l.starts_with("error ")), "every send fails after the live change: {after:?}");
    assert!(offset() > stored_before, "yet the messages were written to the commit log");

    // Our CLI refuses the same change up front.
    let run =
        sidecar(&["reconfigure", "--broker", &addr, "flushDiskType", "ASYNC_FLUSH"], &[], Duration::from_secs(10));
    assert_eq!(run.code, Some(3), "{}", run.all_output());
    broker.kill();
}
