//! Foundation acceptance against real RocketMQ 4.9.6 processes (one shared cluster per run):
//! `config get`, `cluster`, ACL signing, both header serializations, many requests in flight,
//! one-way requests and reconnection.
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{sidecar, Cluster, ACL_ADMIN, ACL_READER};
use rocketmq_sidecar::admin::{BrokerAdmin, NamesrvAdmin};
use rocketmq_sidecar::remoting::{Client, ClientOptions, Command, Credentials, RemotingError, SerializeType};

const LIMIT: Duration = Duration::from_secs(20);

fn config_of(addr: &str) -> BTreeMap<String, String> {
    let run = sidecar(&["config", "get", "--broker", addr], &[], LIMIT);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    run.stdout.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
}

#[test]
fn config_get_on_master_shows_full_config_and_master_role() {
    let c = Cluster::shared();
    let config = config_of(&c.master.addr());
    assert!(config.len() >= 170, "only {} keys", config.len());
    assert_eq!(config["brokerId"], "0");
    assert_eq!(config["brokerRole"], "ASYNC_MASTER");
    assert_eq!(config["listenPort"], c.master.port.to_string());
}

#[test]
fn config_get_on_slave_shows_slave_role() {
    let config = config_of(&Cluster::shared().slave.addr());
    assert_eq!(config["brokerId"], "1");
    assert_eq!(config["brokerRole"], "SLAVE");
}

#[test]
fn config_get_json_and_env_configuration() {
    let c = Cluster::shared();
    let run = sidecar(&["config", "get", "--json"], &[("ROCKETMQ_SIDECAR_BROKER", &c.master.addr())], LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["brokerName"], "broker-a");
    // The addon's BROKER_PORT gives the default address 127.0.0.1:$BROKER_PORT.
    let run = sidecar(&["config", "get"], &[("BROKER_PORT", &c.slave.port.to_string())], LIMIT);
    assert!(run.stdout.contains("brokerRole=SLAVE"), "{}", run.stderr);
}

#[test]
fn cluster_lists_the_shard_with_both_brokers() {
    let c = Cluster::shared();
    let run = sidecar(&["cluster", "--namesrv", &c.namesrv.addr()], &[], LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let rows: Vec<Vec<&str>> = run.stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.contains(&vec!["DefaultCluster", "broker-a", "0", &c.master.addr()]), "{}", run.stdout);
    assert!(rows.contains(&vec!["DefaultCluster", "broker-a", "1", &c.slave.addr()]), "{}", run.stdout);
    assert!(rows.contains(&vec!["DefaultCluster", "broker-acl", "0", &c.acl.addr()]), "{}", run.stdout);

    let run = sidecar(&["cluster", "--json"], &[("ROCKETMQ_SIDECAR_NAMESRV", &c.namesrv.addr())], LIMIT);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["brokers"]["broker-a"]["addrs"]["1"], c.slave.addr());
}

#[test]
fn cluster_fails_over_to_the_next_name_server() {
    let c = Cluster::shared();
    let dead = format!("127.0.0.1:{}", common::free_port());
    let list = format!("{dead};{}", c.namesrv.addr());
    let run = sidecar(&["cluster", "--namesrv", &list], &[], LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("broker-a"));
    // The addon's ALL_NAMESRV_FQDN + NAMESRV_PORT also work.
    let env = [("ALL_NAMESRV_FQDN", "127.0.0.1"), ("NAMESRV_PORT", &c.namesrv.port.to_string())];
    let run = sidecar(&["cluster"], &env, LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn acl_broker_accepts_the_admin_key_in_every_way_it_can_be_given() {
    let c = Cluster::shared();
    let addr = c.acl.addr();
    let (ak, sk) = ACL_ADMIN;
    let secret_file = common::scratch("secret").join("sk");
    std::fs::write(&secret_file, format!("{sk}\n")).unwrap();
    let runs = [
        sidecar(
            &["config", "get", "--broker", &addr, "--access-key", ak],
            &[("ROCKETMQ_SIDECAR_SECRET_KEY", sk)],
            LIMIT,
        ),
        sidecar(
            &["config", "get", "--broker", &addr],
            &[("ROCKETMQ_SIDECAR_ACCESS_KEY", ak), ("ROCKETMQ_SIDECAR_SECRET_KEY", sk)],
            LIMIT,
        ),
        sidecar(
            &[
                "config",
                "get",
                "--broker",
                &addr,
                "--access-key",
                ak,
                "--secret-key-file",
                secret_file.to_str().unwrap(),
            ],
            &[],
            LIMIT,
        ),
        // What the addon gives every container.
        sidecar(
            &["config", "get", "--broker", &addr, "--log", "debug"],
            &[("ENABLE_ACL", "true"), ("ROCKETMQ_USER", ak), ("ROCKETMQ_PASSWORD", sk)],
            LIMIT,
        ),
    ];
    for run in &runs {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(run.stdout.contains("aclEnable=true"));
        assert!(!run.all_output().contains(sk), "secret leaked");
    }
    // A read-only (non-admin) account may read the config too.
    let (rk, rs) = ACL_READER;
    let run = sidecar(
        &["config", "get", "--broker", &addr, "--access-key", rk],
        &[("ROCKETMQ_SIDECAR_SECRET_KEY", rs)],
        LIMIT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[test]
fn acl_broker_refusals_are_named_and_never_leak_the_secret() {
    let c = Cluster::shared();
    let addr = c.acl.addr();
    let wrong = "not-the-secret-9137";
    let run = sidecar(
        &["config", "get", "--broker", &addr, "--access-key", ACL_ADMIN.0, "--log", "trace"],
        &[("ROCKETMQ_SIDECAR_SECRET_KEY", wrong)],
        LIMIT,
    );
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty());
    for needle in
        ["refused GET_BROKER_CONFIG by ACL", "code 1 SYSTEM_ERROR", "Check signature failed for accessKey=sidecarAdmin"]
    {
        assert!(run.stderr.contains(needle), "missing {needle:?} in: {}", run.stderr);
    }
    assert!(!run.all_output().contains(wrong), "secret leaked: {}", run.all_output());
    // Log lines (JSON, at trace) aside, the reason is one line.
    let reason: Vec<&str> = run.stderr.lines().filter(|l| !l.starts_with('{')).collect();
    assert_eq!(reason.len(), 1, "one-line reason: {}", run.stderr);

    let run = sidecar(&["config", "get", "--broker", &addr], &[], LIMIT);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("by ACL") && run.stderr.contains("No accessKey is configured"), "{}", run.stderr);

    let run = sidecar(
        &["config", "get", "--broker", &addr, "--access-key", "unknownKey1"],
        &[("ROCKETMQ_SIDECAR_SECRET_KEY", wrong)],
        LIMIT,
    );
    assert!(run.stderr.contains("No acl config for unknownKey1"), "{}", run.stderr);
    assert!(!run.all_output().contains(wrong));

    // On the command line a secret is refused outright (it would show in `ps`), and not echoed.
    let run = sidecar(&["config", "get", "--broker", &addr, "--access-key", "k", "--secret-key", wrong], &[], LIMIT);
    assert_eq!(run.code, Some(64), "{}", run.all_output());
    assert!(run.stderr.contains("ROCKETMQ_SIDECAR_SECRET_KEY") && !run.all_output().contains(wrong), "{}", run.stderr);
}

#[test]
fn half_given_credentials_are_a_usage_error() {
    let run = sidecar(&["config", "get", "--broker", "127.0.0.1:1", "--access-key", "someKey12"], &[], LIMIT);
    assert_eq!(run.code, Some(64));
    assert!(run.stderr.contains("without a secret key"), "{}", run.stderr);
}

fn opts() -> ClientOptions {
    ClientOptions { request_timeout: Duration::from_secs(10), ..ClientOptions::default() }
}

#[tokio::test]
async fn both_header_formats_work_against_the_real_broker_signed_or_not() {
    let c = Cluster::shared();
    for format in [SerializeType::RocketMq, SerializeType::Json] {
        let admin = BrokerAdmin::new(c.master.addr(), ClientOptions { serialize_type: format, ..opts() });
        assert_eq!(admin.config().await.unwrap()["brokerId"], "0", "{format:?}");
        // Signed requests are accepted by the ACL broker in either format.
        let creds = Credentials::new(ACL_ADMIN.0, ACL_ADMIN.1);
        let o = ClientOptions { serialize_type: format, credentials: Some(creds), ..opts() };
        assert_eq!(BrokerAdmin::new(c.acl.addr(), o).config().await.unwrap()["aclEnable"], "true", "{format:?}");
    }
    assert_eq!(ClientOptions::default().serialize_type, SerializeType::RocketMq, "binary by default");
    // The command line's switch back to JSON.
    let addr = c.master.addr();
    let run = sidecar(&["config", "get", "--broker", &addr, "--header-format", "json"], &[], LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("brokerId=0"), "{}", run.stdout);
}

#[tokio::test]
async fn many_requests_in_flight_on_one_connection() {
    let c = Cluster::shared();
    // Through a proxy that counts the connections it accepts: all 64 must share one.
    let proxy = common_proxy::Proxy::start(&c.master.addr()).await;
    let client = Arc::new(Client::new(proxy.addr.clone(), opts()));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = client.clone();
        // Alternate two request kinds so a mismatched opaque would hand back the wrong body.
        tasks.push(tokio::spawn(async move {
            let code = if i % 2 == 0 { 26 } else { 28 };
            let resp = client.invoke_ok(Command::request(code)).await.unwrap();
            (code, resp.body)
        }));
    }
    for t in tasks {
        let (code, body) = t.await.unwrap();
        let text = String::from_utf8_lossy(&body);
        match code {
            26 => assert!(text.contains("brokerRole="), "config body"),
            _ => assert!(text.starts_with("{\"table\""), "runtime info body"),
        }
    }
    assert_eq!(proxy.accepted(), 1, "64 requests in flight at once went over one connection");
}

#[tokio::test]
async fn runtime_info_and_cluster_info_are_typed() {
    let c = Cluster::shared();
    let info = BrokerAdmin::new(c.master.addr(), opts()).runtime_info().await.unwrap();
    assert_eq!(info["brokerVersionDesc"], "V4_9_6");
    let ns = NamesrvAdmin::new(&c.namesrv.addr(), opts()).unwrap();
    let cluster = ns.cluster_info().await.unwrap();
    let (shard, id) = cluster.find_addr(&c.slave.addr()).unwrap();
    assert_eq!((shard.broker_name.as_str(), id), ("broker-a", 1));
}

#[tokio::test]
async fn unsupported_request_code_is_reported_with_the_brokers_code_and_remark() {
    let c = Cluster::shared();
    let err = Client::new(c.master.addr(), opts()).invoke_ok(Command::request(9999)).await.unwrap_err();
    match &err {
        RemotingError::Refused { code: 3, remark, .. } => assert!(remark.contains("not supported")),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("code 3 (REQUEST_CODE_NOT_SUPPORTED)"), "{err}");
}

#[tokio::test]
async fn reconnects_after_the_connection_breaks() {
    let c = Cluster::shared();
    let proxy = common_proxy::Proxy::start(&c.master.addr()).await;
    let client = Client::new(proxy.addr.clone(), opts());
    client.invoke_ok(Command::request(26)).await.unwrap();
    proxy.cut_all();
    // The cut is seen by the reader; a request may race it, but the client must recover by itself.
    let mut ok = false;
    for _ in 0..50 {
        match client.invoke_ok(Command::request(26)).await {
            Ok(_) => {
                ok = true;
                break;
            }
            Err(e) => assert!(matches!(e.kind(), "closed" | "write"), "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "client did not reconnect");
    assert!(proxy.accepted() >= 2, "a second connection was made");
}

/// A tiny TCP proxy whose connections can be cut from the test.
mod common_proxy {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    pub struct Proxy {
        pub addr: String,
        tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
        accepted: Arc<AtomicUsize>,
        _acceptor: JoinHandle<()>,
    }

    impl Proxy {
        pub async fn start(target: &str) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
            let accepted = Arc::new(AtomicUsize::new(0));
            let (t, a, target) = (tasks.clone(), accepted.clone(), target.to_string());
            let acceptor = tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    a.fetch_add(1, Ordering::SeqCst);
                    let target = target.clone();
                    t.lock().unwrap().push(tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }));
                }
            });
            Proxy { addr, tasks, accepted, _acceptor: acceptor }
        }

        pub fn cut_all(&self) {
            for t in self.tasks.lock().unwrap().drain(..) {
                t.abort();
            }
        }

        pub fn accepted(&self) -> usize {
            self.accepted.load(Ordering::SeqCst)
        }
    }
}

// ---- role probe (issue 3), non-destructive: on the shared cluster ----

#[test]
fn role_prints_exactly_the_addon_role_names() {
    let c = Cluster::shared();
    for (broker, want) in [(&c.master, "master"), (&c.slave, "slave")] {
        for extra in [vec![], vec!["--namesrv".to_string(), c.namesrv.addr()]] {
            let mut args = vec!["role", "--broker"];
            let addr = broker.addr();
            args.push(&addr);
            args.extend(extra.iter().map(String::as_str));
            let run = sidecar(&args, &[], LIMIT);
            assert_eq!(run.code, Some(0), "{}", run.stderr);
            assert_eq!(run.stdout, format!("{want}\n"));
            assert!(run.stderr.is_empty(), "{}", run.stderr);
        }
    }
    // The addon's env: BROKER_PORT and ALL_NAMESRV_FQDN + NAMESRV_PORT.
    let env = [
        ("BROKER_PORT", c.slave.port.to_string()),
        ("ALL_NAMESRV_FQDN", "127.0.0.1".to_string()),
        ("NAMESRV_PORT", c.namesrv.port.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = sidecar(&["role"], &env, LIMIT);
    assert_eq!(run.stdout, "slave\n", "{}", run.stderr);
}

#[test]
fn role_on_the_acl_broker() {
    let c = Cluster::shared();
    let addr = c.acl.addr();
    let (ak, sk) = ACL_READER;
    let run = sidecar(
        &["role", "--broker", &addr],
        &[("ROCKETMQ_SIDECAR_ACCESS_KEY", ak), ("ROCKETMQ_SIDECAR_SECRET_KEY", sk)],
        LIMIT,
    );
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), "master\n"), "{}", run.stderr);
    let run = sidecar(
        &["role", "--broker", &addr],
        &[("ROCKETMQ_SIDECAR_ACCESS_KEY", ak), ("ROCKETMQ_SIDECAR_SECRET_KEY", "wrong-1234")],
        LIMIT,
    );
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty(), "nothing on stdout, so nothing is taken as a role");
    assert!(
        run.stderr.contains("cannot determine the role") && run.stderr.contains("Check signature failed"),
        "{}",
        run.stderr
    );
    assert!(!run.all_output().contains("wrong-1234"));
}

#[test]
fn serve_next_to_master_and_slave() {
    let c = Cluster::shared();
    let ns = c.namesrv.addr();
    let (m_addr, s_addr) = (c.master.addr(), c.slave.addr());
    let master = common::Serve::start(&["--broker", &m_addr, "--namesrv", &ns, "--interval", "500ms"]);
    let slave = common::Serve::start(&["--broker", &s_addr, "--namesrv", &ns, "--interval", "500ms"]);
    for s in [&master, &slave] {
        s.wait_for("/ready", Duration::from_secs(10), |code, _| code == 200);
    }
    let code = |s: &common::Serve, p: &str| s.get(p).0;
    assert_eq!((code(&master, "/primary"), code(&master, "/master")), (200, 200));
    assert_eq!((code(&master, "/replica"), code(&master, "/slave")), (503, 503));
    assert_eq!((code(&slave, "/primary"), code(&slave, "/replica")), (503, 200));
    assert_eq!(code(&slave, "/replica?lag=1000000000"), 200);
    assert_eq!(master.get("/role").1, "master\n");
    assert_eq!(slave.get("/role").1, "slave\n");
    assert!(master.get("/replica").1.contains("this broker is master"));
    for s in [&master, &slave] {
        assert_eq!((code(s, "/health"), code(s, "/live")), (200, 200));
        assert_eq!(code(s, "/no-such-endpoint"), 404);
    }

    let m = master.status();
    assert_eq!(
        (m["role"].as_str(), m["brokerId"].as_u64(), m["brokerName"].as_str()),
        (Some("master"), Some(0), Some("broker-a"))
    );
    assert_eq!(m["cluster"], "DefaultCluster");
    assert_eq!(m["brokerAddr"], m_addr);
    assert_eq!(m["namesrvCheck"]["result"], "confirmed");
    assert!(m["lastSuccessfulCheckMs"].as_u64().unwrap() > 0);
    assert!(m["lastError"].is_null());
    let s = slave.status();
    assert_eq!((s["role"].as_str(), s["brokerId"].as_u64()), (Some("slave"), Some(1)));
    assert_eq!(s["masterAddr"], m_addr);
    assert!(s["slaveLagBytes"].is_u64(), "slave lag reported: {s}");
}

/// How many requests of `kind` a `serve` has sent (its own request histogram).
fn requests_sent(serve: &common::Serve, kind: &str) -> u64 {
    let metrics = serve.get("/metrics").1;
    let line = format!("rocketmq_sidecar_request_duration_seconds_count{{request=\"{kind}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).map(|n| n.trim().parse().unwrap()).unwrap_or_else(
        || {
            if metrics.contains("rocketmq_sidecar_request_duration_seconds") {
                0
            } else {
                panic!("no request histogram: {metrics}")
            }
        },
    )
}

/// What the role poll costs the broker (issue 25): one GET_BROKER_CONFIG per check and no runtime
/// info on a master; a slave's lag is sampled at most once per check (its cadence, which spaces the
/// samples by what they cost, is unit-tested in src/role/probe.rs).
#[test]
fn the_role_poll_asks_only_for_the_config_and_samples_a_slave_s_lag() {
    let c = Cluster::shared();
    let ns = c.namesrv.addr();
    let (m_addr, s_addr) = (c.master.addr(), c.slave.addr());
    let quiet = ["--namesrv", &ns, "--interval", "200ms", "--no-broker-metrics"];
    let master = common::Serve::start(&[&["--broker", m_addr.as_str()][..], &quiet].concat());
    let slave = common::Serve::start(&[&["--broker", s_addr.as_str()][..], &quiet].concat());
    let checks = |s: &common::Serve| s.status()["checks"].as_u64().unwrap();
    for s in [&master, &slave] {
        s.wait_for("/status", Duration::from_secs(20), |_, b| {
            serde_json::from_str::<serde_json::Value>(b).is_ok_and(|v| v["checks"].as_u64() >= Some(20))
        });
    }
    assert!(requests_sent(&master, "GET_BROKER_CONFIG") >= checks(&master) - 1, "one config read per check");
    assert_eq!(requests_sent(&master, "GET_BROKER_RUNTIME_INFO"), 0, "a master's role needs no runtime info");
    let s = slave.status();
    assert!(s["slaveLagBytes"].is_u64(), "the slave's lag is known: {s}");
    let samples = requests_sent(&slave, "GET_BROKER_RUNTIME_INFO") / 2; // the slave's and the master's
    assert!(samples >= 1 && samples <= checks(&slave), "{samples} lag samples in {} checks: {s}", checks(&slave));
}

#[tokio::test]
async fn update_config_round_trips_through_java_properties() {
    // The ACL broker is used so no other test sees the change; the admin key is required for code 25.
    let c = Cluster::shared();
    let creds = Credentials::new(ACL_ADMIN.0, ACL_ADMIN.1);
    let admin = BrokerAdmin::new(c.acl.addr(), ClientOptions { credentials: Some(creds), ..opts() });
    // Separators, comment starters, a backslash, a leading space and non-ASCII must survive
    // Properties.load on the broker exactly.
    let tricky = " Region=A:B #1 !x \\ ü中";
    let pairs: BTreeMap<String, String> =
        [("regionId", tricky), ("waitTimeMillsInSendQueue", "333")].map(|(k, v)| (k.to_string(), v.to_string())).into();
    admin.update_config(&pairs).await.unwrap();
    let config = admin.config().await.unwrap();
    assert_eq!(config["regionId"], tricky);
    assert_eq!(config["waitTimeMillsInSendQueue"], "333");

    // A non-admin key is refused by ACL, and nothing changes.
    let reader = Credentials::new(ACL_READER.0, ACL_READER.1);
    let ro = BrokerAdmin::new(c.acl.addr(), ClientOptions { credentials: Some(reader), ..opts() });
    let one: BTreeMap<String, String> = [("waitTimeMillsInSendQueue".to_string(), "444".to_string())].into();
    let err = ro.update_config(&one).await.unwrap_err();
    assert!(err.to_string().contains("Need admin permission for request code=25"), "{err}");
    assert_eq!(admin.config().await.unwrap()["waitTimeMillsInSendQueue"], "333");
}

/// What the KubeBlocks manifests' memberLeave and reconfigure actions call (deploy/kubeblocks/).
#[test]
fn member_leave_lets_a_slave_go_and_reconfigure_waits_for_the_watched_file() {
    let c = Cluster::shared();
    let (m_addr, s_addr) = (c.master.addr(), c.slave.addr());
    let t = Duration::from_secs(20);
    let on_slave = common::sidecar(&["scale-in", "check", "--broker", &s_addr, "--allow-slave"], &[], t);
    assert_eq!(on_slave.code, Some(0), "{}", on_slave.all_output());
    assert!(on_slave.stdout.starts_with("safe: ") && on_slave.stdout.contains("slave"), "{}", on_slave.stdout);
    let strict = common::sidecar(&["scale-in", "check", "--broker", &s_addr], &[], t);
    assert_eq!(strict.code, Some(2), "without --allow-slave a slave target cannot be told: {}", strict.all_output());

    let slave = common::Serve::start(&["--broker", &s_addr, "--no-namesrv-check"]);
    assert_eq!(slave.get("/scale-in?allowSlave=true").0, 200);
    assert_eq!(slave.get("/scale-in").0, 503);

    let dir = common::scratch("config-applied");
    let file = dir.join("broker.conf");
    let write = |text: &str| {
        std::fs::write(dir.join("tmp"), text).unwrap();
        std::fs::rename(dir.join("tmp"), &file).unwrap();
    };
    let live = config_of(&m_addr)["autoDeleteUnusedStats"].clone();
    let flipped = if live == "true" { "false" } else { "true" };
    write(&format!("brokerName=broker-a\nautoDeleteUnusedStats={live}\n"));
    let master = common::Serve::start(&["--broker", &m_addr, "--config-file", file.to_str().unwrap()]);
    let (code, body, _) = master.get("/config/applied");
    assert_eq!(code, 200, "{body}");
    write(&format!("brokerName=broker-a\nautoDeleteUnusedStats={flipped}\n"));
    let (code, body, took) = master.get("/config/applied?wait=10");
    assert_eq!(code, 200, "the reloader applies the new file while the action waits: {body}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(config_of(&m_addr)["autoDeleteUnusedStats"], flipped);
    write("autoDeleteUnusedStats=perhaps\n");
    assert_eq!(master.get("/config/applied").0, 422, "an invalid file is named, not waited on");
    write(&format!("autoDeleteUnusedStats={live}\n"));
    assert_eq!(master.get("/config/applied?wait=10").0, 200);
    let (code, body, _) = slave.get("/config/applied");
    assert_eq!(code, 503, "no --config-file: {body}");
}

/// docs/json.md's tables: (section heading, sub-table label) → field → (type, optional).
type Schemas = BTreeMap<(String, String), BTreeMap<String, (String, bool)>>;

fn json_schemas() -> Schemas {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md")).unwrap();
    let (mut out, mut heading, mut label) = (Schemas::new(), String::new(), String::new());
    let mut table: Option<BTreeMap<String, (String, bool)>> = None;
    for line in text.lines().chain(std::iter::once("")) {
        if let Some(h) = line.strip_prefix("## ") {
            (heading, label) = (h.to_string(), String::new());
        } else if line.starts_with("| field |") {
            table = Some(BTreeMap::new());
        } else if line.starts_with("|---") {
            // the header's underline
        } else if line.starts_with('|') {
            if let Some(t) = table.as_mut() {
                let cols: Vec<&str> = line.split(" | ").map(|c| c.trim_matches(|ch| ch == '|' || ch == ' ')).collect();
                let optional = cols.get(2).is_some_and(|w| w.contains("*(optional)*"));
                t.insert(cols[0].to_string(), (cols[1].replace("\\|", "|"), optional));
            }
        } else if let Some(t) = table.take() {
            out.insert((heading.clone(), label.clone()), t);
        }
        if line.starts_with('*') && line.ends_with("*:") {
            label = line.trim_matches(|c| c == '*' || c == ':').to_string();
        } else if line.starts_with("When the scan itself fails") {
            label = "error".into();
        }
    }
    out
}

fn json_type_ok(spec: &str, v: &serde_json::Value) -> bool {
    spec.split('|').any(|t| match t {
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        other => panic!("docs/json.md: unknown type {other:?}"),
    })
}

/// Every documented field present with its type, and nothing undocumented.
fn check_against(schemas: &Schemas, section: &str, label: &str, doc: &serde_json::Value) {
    let key = (section.to_string(), label.to_string());
    let schema = schemas.get(&key).unwrap_or_else(|| panic!("docs/json.md has no table {key:?}"));
    let obj = doc.as_object().unwrap_or_else(|| panic!("{key:?}: not an object: {doc}"));
    for (field, (spec, optional)) in schema {
        match obj.get(field) {
            Some(v) => assert!(json_type_ok(spec, v), "{key:?}: {field} is not {spec}: {v}"),
            None => assert!(*optional, "{key:?}: {field} missing in {doc}"),
        }
    }
    for field in obj.keys() {
        assert!(schema.contains_key(field), "{key:?}: {field} is not in docs/json.md: {doc}");
    }
}

#[test]
fn json_outputs_match_docs_json_md() {
    let c = Cluster::shared();
    let schemas = json_schemas();
    let (master, ns) = (c.master.addr(), c.namesrv.addr());
    let json = |args: &[&str]| -> serde_json::Value {
        let run = sidecar(args, &[], LIMIT);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", run.all_output()))
    };

    let guard = "`scale-in check --json`, `GET /scale-in`";
    // One unconsumed message, so the table has a row (`unconsumed`, shown with --strict).
    // On broker-a only: the producer never picks the ACL broker.
    common::routed_topic(&ns, &[&master], "JsonDocTopic", 1);
    let sent = common::client(&["produce", &ns, "JsonDocTopic", "1"]);
    assert!(sent.iter().any(|l| l.starts_with("ok ")), "{sent:?}");
    let backlog = json(&["scale-in", "check", "--broker", &master, "--json", "--quiet-window", "0", "--strict"]);
    assert!(!backlog["rows"].as_array().unwrap().is_empty(), "{backlog}");
    check_against(&schemas, guard, "", &backlog);
    check_against(&schemas, guard, "writes", &backlog["writes"]);
    for row in backlog["rows"].as_array().unwrap() {
        check_against(&schemas, guard, "row", row);
    }
    let plan = json(&["reconfigure", "--broker", &master, "--json", "--dry-run", "maxMessageSize", "4194305"]);
    check_against(&schemas, "`reconfigure --json`, `config diff --json`", "", &plan);
    check_against(&schemas, "`cluster --json`", "", &json(&["cluster", "--namesrv", &ns, "--json"]));

    let serve = common::Serve::start(&["--broker", &master, "--namesrv", &ns, "--no-broker-metrics"]);
    serve.wait_for("/ready", Duration::from_secs(10), |c, _| c == 200);
    serve.wait_for("/role", Duration::from_secs(10), |c, _| c == 200);
    check_against(&schemas, "`GET /status`", "", &serve.status());
    let dead = format!("127.0.0.1:{}", common::free_port());
    let failing =
        common::Serve::start(&["--broker", &dead, "--no-namesrv-check", "--no-broker-metrics", "--timeout", "500ms"]);
    let (code, body, _) = failing.get("/scale-in");
    assert_eq!(code, 503, "{body}");
    check_against(&schemas, guard, "error", &serde_json::from_str(&body).unwrap());
}

/// A 4.9.6 broker cannot page its topic table (5.3.4+ can: tests/rocketmq5.rs). One larger than
/// the frame limit is "cannot tell" for the guard, with a message that says so and what to do.
#[test]
fn a_topic_table_over_the_frame_limit_is_cannot_tell_and_says_to_raise_max_frame() {
    let master = Cluster::shared().master.addr();
    let size = |code| common::exchange(&master, code).map(|c| c.body.len()).unwrap();
    // Room for every other answer the check needs (config 26, groups 201, offsets 43), not for
    // the topic table (21), grown here until it does not fit.
    let limit = [26, 201, 43].map(size).into_iter().max().unwrap() + 8 * 1024;
    while size(21) < limit + 16 * 1024 {
        let n = size(21);
        for i in 0..50 {
            common::create_topic(&master, &format!("OversizedTable{n}x{i:02}"), 1);
        }
    }
    let limit = limit.to_string();
    let run = common::sidecar(
        &["scale-in", "check", "--broker", &master, "--quiet-window", "0s", "--max-frame", &limit],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(run.code, Some(2), "cannot tell: {}", run.all_output());
    for words in ["topic configs do not fit in one frame", "5.3.4", "raise --max-frame above"] {
        assert!(run.stderr.contains(words), "{words:?}: {}", run.all_output());
    }
}
