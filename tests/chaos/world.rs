//! The processes of a campaign: a 4.9.6 master + slave pair behind a name-server pair, a 4.9.6
//! DLedger group of three on the same name servers, and a 5.5.0 controller-mode group of three whose
//! name server hosts the controller; one `serve` per broker (role, reloader with its own config file,
//! metrics on both listeners), the master's behind the fault proxy; producers and push consumers
//! (CLUSTERING and BROADCASTING) on each side; and the official admin client watching every broker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::common::proxy::FaultProxy;
use crate::common::{self, BrokerSpec, Helper, Proc, Serve};
use crate::history::{now_ms, History, Version};

pub const TOPIC: &str = "chaos";
/// The keys every config file sets and the truth watcher reads back: three read on each use and
/// one stored for the next start (`registerNameServerPeriod`), all sent in one update.
pub const KEYS: [&str; 4] =
    ["maxMessageSize", "waitTimeMillsInPullQueue", "osPageCacheBusyTimeOutMills", "registerNameServerPeriod"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Pair,
    Dledger,
    Controller,
}

impl Group {
    pub fn shard(self) -> &'static str {
        match self {
            Group::Pair => "broker-a",
            Group::Dledger => "broker-d",
            Group::Controller => "broker-c",
        }
    }

    pub fn named(name: &str) -> Group {
        match name {
            "pair" => Group::Pair,
            "dledger" => Group::Dledger,
            "controller" => Group::Controller,
            other => panic!("no group {other:?}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Group::Pair => "pair",
            Group::Dledger => "dledger",
            Group::Controller => "controller",
        }
    }
}

/// A process this harness can kill, pause and restart with the same home and port.
pub struct Node {
    pub key: String,
    pub version: &'static str,
    pub home: PathBuf,
    pub port: u16,
    /// Brokers only: name servers, group, id, configured role and extra settings.
    pub broker: Option<(String, Group, u32, &'static str, Vec<String>)>,
    /// Name servers only: extra settings (the 5.x controller).
    pub name_settings: Vec<String>,
    pub proc: Mutex<Option<Proc>>,
}

impl Node {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn group(&self) -> Option<Group> {
        self.broker.as_ref().map(|b| b.1)
    }

    /// Starts the process (first start or restart) and returns once it was launched.
    pub fn launch(&self) {
        let settings: Vec<&str>;
        let proc = match &self.broker {
            None => {
                settings = self.name_settings.iter().map(String::as_str).collect();
                common::start_namesrv_at(self.version, &self.home, self.port, &settings, &[])
            }
            Some((ns, group, id, role, extra)) => {
                settings = extra.iter().map(String::as_str).collect();
                let spec = BrokerSpec {
                    home: self.home.clone(),
                    port: self.port,
                    namesrv: ns,
                    name: group.shard(),
                    id: *id,
                    role,
                    acl: false,
                };
                common::start_broker_at(self.version, &spec, &settings, &[])
            }
        };
        *self.proc.lock().unwrap() = Some(proc);
    }

    pub fn wait_ready(&self) {
        if let Some(p) = self.proc.lock().unwrap().as_ref() {
            p.wait_ready();
        }
    }

    pub fn signal(&self, sig: &str) {
        if let Some(p) = self.proc.lock().unwrap().as_ref() {
            p.signal(sig);
        }
    }

    /// SIGKILL, and forget the process.
    pub fn kill(&self) {
        if let Some(p) = self.proc.lock().unwrap().take() {
            p.kill();
        }
    }
}

/// One `serve` and what it watches.
pub struct ServeNode {
    pub serve: Serve,
    pub agent_port: u16,
    pub broker: usize,
    pub group: Group,
    pub file: PathBuf,
    /// The file is a ConfigMap-style `..data` symlink layout (swaps, not rewrites).
    pub swapped: bool,
    pub started: u64,
}

pub struct World {
    pub names: Vec<Node>,
    pub brokers: Vec<Node>,
    pub serves: Vec<ServeNode>,
    pub proxy: FaultProxy,
    pub clients: Mutex<Vec<Helper>>,
    pub truth: Helper,
    /// Each broker's checked values before any file was applied.
    pub baselines: Vec<BTreeMap<String, String>>,
    dir: PathBuf,
}

impl World {
    pub fn start(dir: &Path, history: &History) -> World {
        common::ensure_jars();
        let names = start_name_servers(dir);
        let ns_old = format!("{};{}", names[0].addr(), names[1].addr());
        let brokers = start_brokers(dir, &ns_old, &names[2]);
        for n in names.iter().chain(&brokers) {
            n.wait_ready();
            history.proc_state(&n.key, true);
        }
        create_topics(&brokers, &ns_old, &names[2].addr());
        let addrs: Vec<String> = brokers.iter().map(Node::addr).collect();
        // brokerPermission too: the evidence of a drain and of its undoing.
        let mut args = vec!["watch".to_string(), format!("{},brokerPermission", KEYS.join(","))];
        args.extend(addrs.iter().cloned());
        let truth = Helper::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let baselines = addrs.iter().map(|a| first_truth(&truth, a)).collect();
        let proxy = FaultProxy::start(brokers[0].addr());
        let mut world = World {
            names,
            brokers,
            serves: Vec::new(),
            proxy,
            clients: Mutex::new(Vec::new()),
            truth,
            baselines,
            dir: dir.to_path_buf(),
        };
        world.serves = (0..world.brokers.len()).map(|i| world.start_serve(i, history)).collect();
        world.start_clients(&ns_old);
        world
    }

    fn start_serve(&self, i: usize, history: &History) -> ServeNode {
        let node = &self.brokers[i];
        let (ns, group, ..) = node.broker.as_ref().unwrap();
        // The pair's master is watched through the fault proxy; the DLedger group's first broker
        // reads a ConfigMap-style file.
        let broker = if i == 0 { self.proxy.addr() } else { node.addr() };
        let swapped = i == 2;
        let file = self.dir.join(format!("serve-{i}/broker.conf"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let first = valid_values(i as u64);
        write_config(&file, swapped, &render(&first));
        history.version(Version { at: now_ms(), serve: i, expect: Some(first), kind: "valid" });
        let agent_port = common::free_port();
        let agent = format!("127.0.0.1:{agent_port}");
        let args = [
            "--broker",
            &broker,
            "--namesrv",
            ns,
            "--config-file",
            file.to_str().unwrap(),
            "--agent-listen",
            &agent,
            "--interval",
            "1s",
            "--metrics-interval",
            "10s",
            "--reload-interval",
            "10s",
        ];
        let started = now_ms();
        ServeNode { serve: Serve::start(&args), agent_port, broker: i, group: *group, file, swapped, started }
    }

    fn start_clients(&self, ns_old: &str) {
        let ns5 = self.names[2].addr();
        let mut clients = self.clients.lock().unwrap();
        for ns in [ns_old, ns5.as_str()] {
            let side = if ns == ns_old { "old" } else { "new" };
            let cl = format!("chaos_{side}_cl");
            let bc = format!("chaos_{side}_bc");
            clients.push(Helper::start(&["push", ns, TOPIC, &cl, "CLUSTERING", "100000"]));
            clients.push(Helper::start(&["push", ns, TOPIC, &bc, "BROADCASTING", "100000"]));
            clients.push(Helper::start(&["produce-loop", ns, TOPIC, "10", "100000"]));
        }
    }

    /// Every process up and running again (paused ones continued, killed ones restarted).
    pub fn resume_everything(&self, history: &History) {
        for n in self.names.iter().chain(&self.brokers) {
            let running = n.proc.lock().unwrap().as_ref().is_some_and(Proc::alive);
            history.proc_state(&n.key, true);
            if running {
                n.signal("-CONT");
            } else {
                n.launch();
                n.wait_ready();
            }
        }
    }

    pub fn stop_clients(&self) {
        for c in self.clients.lock().unwrap().iter_mut() {
            c.stop();
        }
    }

    /// The name servers the serve of broker `i` asks, and their address.
    pub fn name_server_of(&self, i: usize) -> String {
        self.brokers[i].broker.as_ref().unwrap().0.clone()
    }
}

fn start_name_servers(dir: &Path) -> Vec<Node> {
    let raft = common::free_port();
    let controller = [
        "enableControllerInNamesrv=true".to_string(),
        "controllerDLegerGroup=g1".to_string(),
        format!("controllerDLegerPeers=n0-127.0.0.1:{raft}"),
        "controllerDLegerSelfId=n0".to_string(),
        format!("controllerStorePath={}", dir.join("controller").display()),
        "mappedFileSize=67108864".to_string(),
    ];
    let node = |key: &str, version, settings: Vec<String>| Node {
        key: key.to_string(),
        version,
        home: dir.join(key),
        port: common::free_port(),
        broker: None,
        name_settings: settings,
        proc: Mutex::new(None),
    };
    let names =
        vec![node("ns1", "4.9.6", vec![]), node("ns2", "4.9.6", vec![]), node("ns5", "5.5.0", controller.to_vec())];
    for n in &names {
        n.launch();
    }
    names
}

fn start_brokers(dir: &Path, ns_old: &str, ns5: &Node) -> Vec<Node> {
    let mut brokers = Vec::new();
    let mut add = |key: &str, version, ns: &str, group, id, role, extra: Vec<String>| {
        brokers.push(Node {
            key: key.to_string(),
            version,
            home: dir.join(key),
            port: common::free_port(),
            broker: Some((ns.to_string(), group, id, role, extra)),
            name_settings: Vec::new(),
            proc: Mutex::new(None),
        })
    };
    add("a0", "4.9.6", ns_old, Group::Pair, 0, "ASYNC_MASTER", vec![]);
    add("a1", "4.9.6", ns_old, Group::Pair, 1, "SLAVE", vec![]);
    let raft: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let peers = raft.iter().enumerate().map(|(i, p)| format!("n{i}-127.0.0.1:{p}")).collect::<Vec<_>>().join(";");
    for i in 0..3u32 {
        let key = format!("d{i}");
        let extra = vec![
            "enableDLegerCommitLog=true".to_string(),
            "dLegerGroup=broker-d".to_string(),
            format!("dLegerPeers={peers}"),
            format!("dLegerSelfId=n{i}"),
            format!("storePathDLedgerCommitLog={}", dir.join(&key).join("store/dledger").display()),
        ];
        add(&key, "4.9.6", ns_old, Group::Dledger, i, "ASYNC_MASTER", extra);
    }
    let controller = ns5.name_settings[2].rsplit('-').next().unwrap().to_string();
    for i in 1..=3u32 {
        let key = format!("c{i}");
        let extra = vec![
            "enableControllerMode=true".to_string(),
            format!("controllerAddr={controller}"),
            format!("storePathEpochFile={}", dir.join(&key).join("store/epochFileCheckpoint").display()),
            "allAckInSyncStateSet=false".to_string(),
        ];
        add(&key, "5.5.0", &ns5.addr(), Group::Controller, i, "SLAVE", extra);
    }
    for b in &brokers {
        b.launch();
    }
    brokers
}

/// The topic on every broker (a DLedger or controller group's new master must have it too), routed
/// by both name-server sides before the producers start.
fn create_topics(brokers: &[Node], ns_old: &str, ns5: &str) {
    // A slave refuses topic changes (its master's are copied to it): the topic is created on
    // whichever broker of a group is master by now, again until the group's name server routes it
    // (a 5.x master elected a moment ago may not have registered yet).
    for (group, ns) in
        [(Group::Pair, ns_old.split(';').next().unwrap()), (Group::Dledger, ns_old), (Group::Controller, ns5)]
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let members: Vec<&Node> = brokers.iter().filter(|b| b.group() == Some(group)).collect();
        loop {
            let created = members.iter().filter(|b| try_create_topic(&b.addr())).count();
            if created > 0 && routed(ns.split(';').next().unwrap(), group.shard()) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{} never routed {TOPIC} to {}", ns, group.shard());
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

/// Whether the name server at `ns` routes the topic to shard `shard`.
fn routed(ns: &str, shard: &str) -> bool {
    use rocketmq_sidecar::admin::NamesrvAdmin;
    use rocketmq_sidecar::remoting::ClientOptions;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let Ok(admin) = NamesrvAdmin::new(ns, ClientOptions::default()) else { return false };
    rt.block_on(admin.route(TOPIC)).is_ok_and(|r| r.iter().any(|q| q.broker_name == shard))
}

/// UPDATE_AND_CREATE_TOPIC on `addr`; false when refused (a slave).
fn try_create_topic(addr: &str) -> bool {
    use rocketmq_sidecar::remoting::{Client, ClientOptions, Command};
    let req = Command::request(17)
        .with_ext("topic", TOPIC)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", "4")
        .with_ext("writeQueueNums", "4")
        .with_ext("perm", "6")
        .with_ext("topicFilterType", "SINGLE_TAG")
        .with_ext("topicSysFlag", "0")
        .with_ext("order", "false");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(Client::new(addr, ClientOptions::default()).invoke_ok(req)).is_ok()
}

/// The first values the admin client read from `addr`.
fn first_truth(truth: &Helper, addr: &str) -> BTreeMap<String, String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(line) = truth.lines("cfg ").into_iter().find(|l| field(l, 2) == addr) {
            return parse_values(field(&line, 5));
        }
        assert!(std::time::Instant::now() < deadline, "the admin client never read {addr}'s config");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Field `n` of a space-separated line (the watcher's and the clients' lines; "" past the end).
pub fn field(line: &str, n: usize) -> &str {
    line.split(' ').nth(n).unwrap_or("")
}

/// `k=v,k=v` as the watcher prints it.
pub fn parse_values(kv: &str) -> BTreeMap<String, String> {
    kv.split(',').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A valid set of values for the checked keys, different for each `n`.
pub fn valid_values(n: u64) -> BTreeMap<String, String> {
    let vals = [4_194_304 + n % 997, 3_000 + n % 5_000, 1_000 + n % 2_000, 10_000 + (n / 7) % 50_000];
    KEYS.iter().zip(vals).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn render(values: &BTreeMap<String, String>) -> String {
    values.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Writes a config file as a whole: a rename for a plain file, a `..data` symlink swap for the
/// ConfigMap layout (the way the kubelet updates a mounted ConfigMap).
pub fn write_config(file: &Path, swapped: bool, text: &str) {
    let dir = file.parent().unwrap();
    if !swapped {
        let tmp = dir.join(".broker.conf.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, file).unwrap();
        return;
    }
    let stamp = format!("..{}", now_ms());
    let version = dir.join(&stamp);
    std::fs::create_dir_all(&version).unwrap();
    std::fs::write(version.join("broker.conf"), text).unwrap();
    let link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&stamp, &link).unwrap();
    std::fs::rename(&link, dir.join("..data")).unwrap();
    if !file.exists() {
        std::os::unix::fs::symlink("..data/broker.conf", file).unwrap();
    }
}
