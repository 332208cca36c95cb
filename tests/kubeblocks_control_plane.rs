//! The shipped manifests on a real KubeBlocks v1.0.2 control plane (etcd + kube-apiserver + the
//! KubeBlocks manager, built from Go modules), with real RocketMQ 4.9.6 brokers, `rocketmq-sidecar
//! serve` and the real kbagent as each pod's processes. The test stands in for the kubelet only: it
//! patches pod status (Running, Ready, the spec's images, a podIP of 127.0.0.N per pod), runs each pod's
//! processes locally with the env the controller put in the pod spec, and copies ConfigMaps into the
//! mounted paths. Everything else is KubeBlocks' own controllers deciding.
//!
//! Both variants (exec and HTTP actions) remove a shard that holds a backlog while a producer keeps
//! sending: KubeBlocks 1.0.2 runs the ComponentDefinition's preTerminate before deleting the shard's
//! Component, and the shard stays until its consumers have caught up; no message is lost.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::kb::{config_value, remap, KbAgent, SIDECAR};
use common::kube::ControlPlane;
use common::{free_port, scratch, BrokerSpec, Helper, Proc, Serve};
use serde_json::Value;

/// One broker pod as the kubelet would run it.
struct Pod {
    name: String,
    comp: String,
    dir: PathBuf,
    broker: Proc,
    _serve: Serve,
    agent: KbAgent,
}

/// Which shipped set a test installs.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Exec,
    Http,
}

impl Variant {
    fn dir(self) -> &'static str {
        match self {
            Variant::Exec => "exec",
            Variant::Http => "http",
        }
    }
}

fn pods(cp: &ControlPlane, selector: &str) -> Vec<Value> {
    cp.get(&["pods", "-n", "default", "-l", selector])["items"].as_array().cloned().unwrap_or_default()
}

/// The kubelet's part of a pod's status: Running and Ready, each container started with its spec
/// image, and the pod's own address.
fn mark_running(cp: &ControlPlane, pod: &Value, ip: &str) {
    let name = pod["metadata"]["name"].as_str().unwrap();
    let now = "2026-01-01T00:00:00Z";
    let statuses = |key: &str| -> Vec<Value> {
        pod["spec"][key]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                serde_json::json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": key == "containers",
                    "started": key == "containers", "restartCount": 0,
                    "state": if key == "containers" { serde_json::json!({"running": {"startedAt": now}}) }
                             else { serde_json::json!({"terminated": {"exitCode": 0, "reason": "Completed"}}) }})
            })
            .collect()
    };
    let cond = |t: &str| serde_json::json!({"type": t, "status": "True", "lastTransitionTime": now});
    let status = serde_json::json!({"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "127.0.0.1", "startTime": now,
        "conditions": [cond("PodScheduled"), cond("Initialized"), cond("ContainersReady"), cond("Ready")],
        "containerStatuses": statuses("containers"), "initContainerStatuses": statuses("initContainers")}});
    cp.kubectl(&[
        "patch",
        "pod",
        name,
        "-n",
        "default",
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
}

/// The kbagent container's env from the pod spec, as the kubelet would resolve it: literal values,
/// the downward API, and the component's env ConfigMap.
fn kbagent_env(cp: &ControlPlane, pod: &Value, mounts: &[(&str, &str)]) -> BTreeMap<String, String> {
    let container = pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "kbagent")
        .expect("kbagent container");
    let mut env = BTreeMap::new();
    for from in container["envFrom"].as_array().cloned().unwrap_or_default() {
        if let Some(cm) = from["configMapRef"]["name"].as_str() {
            let data = cp.get(&["configmap", cm, "-n", "default"])["data"].clone();
            for (k, v) in data.as_object().cloned().unwrap_or_default() {
                env.insert(k, v.as_str().unwrap_or_default().to_string());
            }
        }
    }
    for e in container["env"].as_array().cloned().unwrap_or_default() {
        let name = e["name"].as_str().unwrap().to_string();
        let value = if let Some(v) = e["value"].as_str() {
            v.to_string()
        } else if let Some(path) = e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            match path {
                "metadata.name" => pod["metadata"]["name"].as_str().unwrap().into(),
                "metadata.namespace" => "default".into(),
                "metadata.uid" => pod["metadata"]["uid"].as_str().unwrap().into(),
                "spec.nodeName" => "local".into(),
                "status.podIP" => pod["status"]["podIP"].as_str().unwrap_or_default().into(),
                _ => String::new(),
            }
        } else if let (Some(cm), Some(key)) =
            (e["valueFrom"]["configMapKeyRef"]["name"].as_str(), e["valueFrom"]["configMapKeyRef"]["key"].as_str())
        {
            cp.get(&["configmap", cm, "-n", "default"])["data"][key].as_str().unwrap_or_default().into()
        } else {
            continue;
        };
        env.insert(name, value);
    }
    env.into_iter().map(|(k, v)| (k, remap(&v, mounts))).collect()
}

/// Copies the component's rendered broker.conf ConfigMap into the pod's mounted path (the kubelet's
/// ConfigMap volume); true when the file changed.
fn sync_config(cp: &ControlPlane, comp: &str, dir: &std::path::Path) -> bool {
    let cm = cp.get(&["configmap", &format!("{comp}-rocketmq-broker-config"), "-n", "default"]);
    let text = cm["data"]["broker.conf"].as_str().unwrap_or_default().to_string();
    let file = dir.join("kb-config/broker.conf");
    if std::fs::read_to_string(&file).unwrap_or_default() == text {
        return false;
    }
    std::fs::write(&file, text).unwrap();
    true
}

fn role_label(cp: &ControlPlane, pod: &str) -> String {
    cp.get(&["pod", pod, "-n", "default"])["metadata"]["labels"]["kubeblocks.io/role"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Restarts `pod`'s broker on its own store and port as brokerId `id` with `role` (the way a 4.9.6
/// master/slave shard fails over by hand; tests/role_failover.rs does the same).
fn restart_as(pod: &Pod, namesrv: &str, id: u32, role: &str) -> Proc {
    let home = pod.dir.join("broker");
    let conf = home.join("broker.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let text: Vec<String> = text
        .lines()
        .map(|l| match l.split_once('=') {
            Some(("brokerId", _)) => format!("brokerId={id}"),
            Some(("brokerRole", _)) => format!("brokerRole={role}"),
            _ => l.to_string(),
        })
        .collect();
    std::fs::write(&conf, text.join("\n") + "\n").unwrap();
    let spec = BrokerSpec { home, port: pod.broker.port, namesrv, name: &pod.comp, id, role, acl: false };
    let broker = common::start_broker(&spec);
    broker.wait_ready();
    broker
}

const TOPIC: &str = "ScaleInTopic";
const GROUP: &str = "scale-in-group";

/// A fresh control plane with the addon stand-in and one shipped set applied, its definitions Available.
fn install(variant: Variant) -> ControlPlane {
    let cp = ControlPlane::start();
    let root = common::root();
    let standin = root.join("tests/data/kubeblocks/addon-standin.yaml");
    cp.kubectl(&["apply", "--server-side", "-f", standin.to_str().unwrap()]);
    let set = root.join("deploy/kubeblocks").join(variant.dir());
    cp.kubectl(&["apply", "--server-side", "-k", set.to_str().unwrap()]);
    let v = variant.dir();
    for (kind, name) in [
        ("componentdefinition", format!("rocketmq-sidecar-broker4-{v}-0.1.0")),
        ("shardingdefinition", format!("rocketmq-sidecar-shards-{v}")),
        ("paramconfigrenderer", format!("rocketmq-sidecar-render-broker4-{v}")),
        ("parametersdefinition", format!("rocketmq-sidecar-params-broker4-{v}")),
        ("componentdefinition", "rocketmq-namesrv-4-standin".to_string()),
    ] {
        cp.wait(&format!("{kind} {name} Available"), Duration::from_secs(60), |cp| {
            cp.get(&[kind, &name])["status"]["phase"] == "Available"
        });
    }
    cp
}

/// The broker shards' Components (`rocketmq-demo-broker-*`), those being deleted included.
fn components(cp: &ControlPlane) -> Vec<String> {
    let out = cp.kubectl(&["get", "components", "-n", "default", "-o", "name"]);
    out.lines()
        .filter(|l| l.contains("rocketmq-demo-broker-"))
        .map(|l| l.trim_start_matches("component.apps.kubeblocks.io/").to_string())
        .collect()
}

/// The messages of the Warning events KubeBlocks recorded on Component `comp`.
fn warnings(cp: &ControlPlane, comp: &str) -> Vec<String> {
    let selector = format!("involvedObject.name={comp},type=Warning");
    let events = cp.get(&["events", "-n", "default", "--field-selector", &selector]);
    events["items"].as_array().into_iter().flatten().filter_map(|e| e["message"].as_str().map(str::to_string)).collect()
}

fn set_shards(cp: &ControlPlane, shards: usize) {
    let patch = format!(r#"[{{"op":"replace","path":"/spec/shardings/0/shards","value":{shards}}}]"#);
    cp.kubectl(&["patch", "cluster", "rocketmq-demo", "-n", "default", "--type=json", "-p", &patch]);
}

/// The Component KubeBlocks picked for removal (the one with a deletionTimestamp).
fn deleting_component(cp: &ControlPlane) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = cp.get(&["components", "-n", "default"]);
        let deleting = all["items"].as_array().into_iter().flatten().find(|c| {
            !c["metadata"]["deletionTimestamp"].is_null()
                && c["metadata"]["name"].as_str().is_some_and(|n| n.contains("rocketmq-demo-broker-"))
        });
        if let Some(c) = deleting {
            return c["metadata"]["name"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no shard Component is being deleted{}", cp.manager_tail());
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Any update of a Component makes KubeBlocks reconcile it at once, whatever its error backoff: the
/// operator's way to have a held removal re-checked now (deploy/README.md).
fn poke(cp: &ControlPlane, comp: &str) {
    let stamp = format!("rocketmq-sidecar.test/recheck={}", now_ms());
    cp.kubectl(&["annotate", "component", comp, "-n", "default", &stamp, "--overwrite"]);
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// (read at ms, broker, queue, offset) of each line starting with `prefix` (`ok ` from a
/// produce-loop helper, `msg ` from a push consumer: both print "<prefix> <epochMs> <broker> <queue> <offset>").
fn messages(h: &Helper, prefix: &str) -> Vec<(i64, String, u32, i64)> {
    h.lines(prefix)
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[1].parse().unwrap(), f[2].to_string(), f[3].parse().unwrap(), f[4].parse().unwrap())
        })
        .collect()
}

/// The (broker, queue, offset) of every message the consumers finished.
fn consumed(consumers: &[&Helper]) -> BTreeSet<(String, u32, i64)> {
    consumers.iter().flat_map(|c| messages(c, "msg ")).map(|(_, b, q, o)| (b, q, o)).collect()
}

/// Waits until every master's route for `topic` is with the name server (a producer that starts
/// earlier keeps a partial route until its next refresh).
fn wait_full_route(namesrv: &str, topic: &str, shards: usize) {
    use rocketmq_sidecar::admin::NamesrvAdmin;
    use rocketmq_sidecar::remoting::ClientOptions;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ns = NamesrvAdmin::new(namesrv, ClientOptions::default()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let brokers: BTreeSet<String> =
            rt.block_on(ns.route(topic)).unwrap_or_default().into_iter().map(|q| q.broker_name).collect();
        if brokers.len() >= shards {
            return;
        }
        assert!(Instant::now() < deadline, "{topic} routed on {brokers:?} only");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What one guarded shard removal showed.
struct Removal {
    comp: String,
    held_for: Duration,
    consumed_to_gone: Duration,
    sent: usize,
}

/// `shards` → `to` while group `GROUP` (a push consumer that stopped) is behind on every shard and a
/// producer keeps sending. The shard KubeBlocks picks must stay, read-only, with a Warning event naming
/// the backlog, until a consumer has caught up; then it goes, and every message sent was consumed.
/// `poke`: once caught up, have KubeBlocks re-check at once instead of after its error backoff.
fn remove_shard_with_backlog(cp: &ControlPlane, fleet: &[Pod], ns: &str, to: usize, poke_when_done: bool) -> Removal {
    let masters: Vec<&Pod> = fleet.iter().filter(|p| role_label(cp, &p.name) == "master").collect();
    for m in &masters {
        common::create_topic(&m.broker.addr(), TOPIC, 4);
    }
    wait_full_route(ns, TOPIC, masters.len());
    let mut first = Helper::start(&["push", ns, TOPIC, GROUP, "CLUSTERING", "900"]);
    let producer = Helper::start(&["produce-loop", ns, TOPIC, "5", "900"]);
    // Past the client's first offset save (about 10 s after it starts), then the group falls behind.
    first.wait_count("msg ", 80, Duration::from_secs(90));
    first.stop();

    set_shards(cp, to);
    let comp = deleting_component(cp);
    let held_since = Instant::now();
    let master = masters.iter().find(|m| m.comp == comp).expect("the removed shard's master");
    cp.wait("the leaving shard read-only", Duration::from_secs(60), |_| {
        config_value(&master.broker.addr(), "brokerPermission") == "4"
    });
    let read_only_at = now_ms();
    cp.wait("a Warning event naming the backlog", Duration::from_secs(60), |cp| {
        warnings(cp, &comp).iter().any(|m| m.contains("unconsumed message(s)") && m.contains(GROUP))
    });
    eprintln!("{comp} held: {:?}", warnings(cp, &comp).last());
    while held_since.elapsed() < Duration::from_secs(60) {
        assert!(components(cp).contains(&comp), "{comp} deleted with a backlog");
        std::thread::sleep(Duration::from_secs(1));
    }
    // Producers have refreshed their routes (30 s): what they sent since landed on the other shards.
    let late: Vec<_> = messages(&producer, "ok ").into_iter().filter(|(t, ..)| *t > read_only_at + 35_000).collect();
    assert!(!late.is_empty(), "the producer stopped sending");
    assert!(late.iter().all(|(_, b, ..)| *b != comp), "sends to the leaving shard after its route refresh");

    // A consumer comes back for the rest; KubeBlocks removes the shard once it has caught up.
    let second = Helper::start(&["push", ns, TOPIC, GROUP, "CLUSTERING", "900"]);
    let on_removed: BTreeSet<(String, u32, i64)> =
        messages(&producer, "ok ").into_iter().filter(|(_, b, ..)| *b == comp).map(|(_, b, q, o)| (b, q, o)).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !on_removed.is_subset(&consumed(&[&first, &second])) {
        assert!(components(cp).contains(&comp), "{comp} deleted before its messages were consumed");
        assert!(Instant::now() < deadline, "the consumer did not catch up");
        std::thread::sleep(Duration::from_millis(200));
    }
    let caught_up = Instant::now();
    let held_for = held_since.elapsed();
    let mut poked = Instant::now();
    while components(cp).contains(&comp) {
        assert!(caught_up.elapsed() < Duration::from_secs(600), "{comp} still there 10 min after the catch-up");
        if poke_when_done && poked.elapsed() >= Duration::from_secs(5) {
            poke(cp, &comp);
            poked = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let consumed_to_gone = caught_up.elapsed();
    let short = comp.trim_start_matches("rocketmq-demo-");
    cp.wait("the removed shard's pods gone", Duration::from_secs(120), |cp| {
        pods(cp, &format!("apps.kubeblocks.io/component-name={short}")).is_empty()
    });

    // Nothing lost: every message the producer was told SEND_OK for is consumed.
    let mut producer = producer;
    producer.stop();
    let sent: BTreeSet<(String, u32, i64)> =
        messages(&producer, "ok ").into_iter().map(|(_, b, q, o)| (b, q, o)).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !sent.is_subset(&consumed(&[&first, &second])) {
        let missing = sent.difference(&consumed(&[&first, &second])).count();
        assert!(Instant::now() < deadline, "{missing} of {} sent messages never consumed", sent.len());
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "{comp}: held {held_for:?} (read-only, backlog), removed {consumed_to_gone:?} after the consumer caught up \
         (poke: {poke_when_done}); sent {} = consumed, {} of them on the removed shard",
        sent.len(),
        on_removed.len()
    );
    Removal { comp, held_for, consumed_to_gone, sent: sent.len() }
}

/// The name server pod, and our real name server for it.
fn start_namesrv_pod(cp: &ControlPlane, ip: &str) -> Proc {
    let namesrv = common::start_namesrv(&scratch(&format!("cp-namesrv-{ip}")));
    namesrv.wait_ready();
    cp.wait("namesrv pod", Duration::from_secs(60), |cp| {
        !pods(cp, "apps.kubeblocks.io/component-name=namesrv").is_empty()
    });
    for p in pods(cp, "apps.kubeblocks.io/component-name=namesrv") {
        mark_running(cp, &p, ip);
    }
    namesrv
}

/// Every broker pod of the Cluster, run as the kubelet would: ordinal 0 the shard's master, the
/// others its slaves; pod IPs from 127.0.0.`first_ip` on. The HTTP variant's kbagent calls the
/// sidecar on the pod's loopback ports 9897 / 9898; all pods share this machine's loopback here, so
/// each pod's ports are mapped to free ones (the pod's own network namespace, stood in for).
fn start_pods(cp: &ControlPlane, ns: &str, variant: Variant, first_ip: usize) -> Vec<Pod> {
    let mut names: Vec<(String, String)> = pods(cp, "apps.kubeblocks.io/sharding-name=broker")
        .iter()
        .map(|p| {
            let name = p["metadata"]["name"].as_str().unwrap().to_string();
            let short = p["metadata"]["labels"]["apps.kubeblocks.io/component-name"].as_str().unwrap();
            (format!("rocketmq-demo-{short}"), name)
        })
        .collect();
    names.sort();
    let mut running = Vec::new();
    for (i, (comp, name)) in names.into_iter().enumerate() {
        let ordinal: u32 = name.rsplit('-').next().unwrap().parse().unwrap();
        let ip = format!("127.0.0.{}", first_ip + i);
        let dir = scratch(&format!("cp-{name}"));
        std::fs::create_dir_all(dir.join("kb-config")).unwrap();
        cp.wait(&format!("{comp}-rocketmq-broker-config rendered"), Duration::from_secs(60), |cp| {
            cp.kubectl_ok(&["get", "configmap", &format!("{comp}-rocketmq-broker-config"), "-n", "default"])
        });
        sync_config(cp, &comp, &dir);
        let conf = std::fs::read_to_string(dir.join("kb-config/broker.conf")).unwrap();
        assert!(conf.contains("maxMessageSize=4194304"), "props-plus keeps the keys as written: {conf}");
        let role = if ordinal == 0 { "ASYNC_MASTER" } else { "SLAVE" };
        let spec = BrokerSpec {
            home: dir.join("broker"),
            port: free_port(),
            namesrv: ns,
            name: &comp,
            id: ordinal,
            role,
            acl: false,
        };
        let broker = common::start_broker(&spec);
        running.push((name, comp, ip, dir, broker));
    }
    let mut fleet = Vec::new();
    for (name, comp, ip, dir, broker) in running {
        broker.wait_ready();
        let pod = cp.get(&["pod", &name, "-n", "default"]);
        mark_running(cp, &pod, &ip);
        let pod = cp.get(&["pod", &name, "-n", "default"]);
        let conf = dir.join("kb-config/broker.conf");
        let mut args = vec!["--broker".to_string(), broker.addr(), "--namesrv".into(), ns.into()];
        args.extend(["--config-file".into(), conf.display().to_string()]);
        let kb_config = format!("{}/", dir.join("kb-config").display());
        let mut mounts =
            vec![("/sidecar-bin/rocketmq-sidecar".to_string(), SIDECAR.to_string()), ("/kb-config/".into(), kb_config)];
        let serve = match variant {
            Variant::Exec => Serve::start(&args.iter().map(String::as_str).collect::<Vec<_>>()),
            Variant::Http => {
                let (main, local) = (free_port(), free_port());
                args.extend(["--local-listen".into(), format!("127.0.0.1:{local}")]);
                mounts.push(("\"9897\"".into(), format!("\"{main}\"")));
                mounts.push(("\"9898\"".into(), format!("\"{local}\"")));
                Serve::start_on(&format!("127.0.0.1:{main}"), &args.iter().map(String::as_str).collect::<Vec<_>>())
            }
        };
        let mounts: Vec<(&str, &str)> = mounts.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let mut env = kbagent_env(cp, &pod, &mounts);
        assert!(env.contains_key("KB_AGENT_ACTION") && env.contains_key("KB_AGENT_PROBE"), "{env:?}");
        // The pod's own network namespace would make these 127.0.0.1:$BROKER_PORT and the FQDNs.
        env.insert("ROCKETMQ_SIDECAR_BROKER".into(), broker.addr());
        env.insert("ROCKETMQ_SIDECAR_NAMESRV".into(), ns.into());
        env.insert("KUBECONFIG".into(), cp.kubeconfig.display().to_string());
        env.insert("PATH".into(), std::env::var("PATH").unwrap());
        let agent = KbAgent::start(&ip, 3501, &env);
        fleet.push(Pod { name, comp, dir, broker, _serve: serve, agent });
    }
    fleet
}

/// Role labels from kbagent's roleProbe events, set by the instanceset controller: ordinal 0 master.
fn wait_role_labels(cp: &ControlPlane, fleet: &[Pod]) {
    cp.wait("role labels", Duration::from_secs(90), |cp| {
        fleet.iter().all(|p| role_label(cp, &p.name) == if p.name.ends_with("-0") { "master" } else { "slave" })
    });
    eprintln!("role labels: {:?}", fleet.iter().map(|p| (p.name.clone(), role_label(cp, &p.name))).collect::<Vec<_>>());
}

/// The two control-plane tests one after the other: each runs 4-5 JVMs and a control plane.
fn turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn kubeblocks_1_0_2_reconciles_the_shipped_manifests_into_broker_pods_whose_hooks_fire() {
    let _turn = turn();
    let cp = install(Variant::Exec);
    let root = common::root();
    cp.kubectl(&[
        "apply",
        "--server-side",
        "-f",
        root.join("deploy/kubeblocks/cluster-example.yaml").to_str().unwrap(),
    ]);
    let broker_pods = |cp: &ControlPlane| pods(cp, "apps.kubeblocks.io/sharding-name=broker");
    cp.wait("4 broker pods", Duration::from_secs(90), |cp| broker_pods(cp).len() == 4);
    for p in &broker_pods(&cp) {
        let containers: Vec<&str> =
            p["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert!(containers.contains(&"rocketmq-sidecar") && containers.contains(&"kbagent"), "{containers:?}");
    }
    let namesrv = start_namesrv_pod(&cp, "127.0.0.10");
    let ns = namesrv.addr();
    let mut fleet = start_pods(&cp, &ns, Variant::Exec, 2);
    assert_eq!(fleet.iter().map(|p| &p.comp).collect::<BTreeSet<_>>().len(), 2, "two shards");
    wait_role_labels(&cp, &fleet);
    // A Reconfiguring of a live parameter: KubeBlocks updates broker.conf in place; the kubelet stand-in
    // copies it; the sidecar's watcher applies it; every broker runs the new value.
    let ops = |name: &str, key: &str, value: &str| {
        format!("apiVersion: operations.kubeblocks.io/v1alpha1\nkind: OpsRequest\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  clusterName: rocketmq-demo\n  type: Reconfiguring\n  reconfigures:\n  - componentName: broker\n    parameters:\n    - {{key: {key}, value: \"{value}\"}}\n")
    };
    let file = scratch("cp-ops").join("live.yaml");
    std::fs::write(&file, ops("live", "maxMessageSize", "5242881")).unwrap();
    cp.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for p in &fleet {
            sync_config(&cp, &p.comp, &p.dir);
        }
        if fleet.iter().all(|p| config_value(&p.broker.addr(), "maxMessageSize") == "5242881") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "live value not on every broker: {}{}",
            cp.kubectl(&["get", "opsrequest", "-n", "default", "-o", "yaml"]),
            cp.manager_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    cp.wait("OpsRequest live Succeed", Duration::from_secs(60), |cp| {
        cp.get(&["opsrequest", "live", "-n", "default"])["status"]["phase"] == "Succeed"
    });

    // The periodic roleProbe failing on a paused master: kbagent reports failures, the controller
    // ignores them, and the label stays; it is never turned into another role.
    let keeps_label = |pod: &Pod, role: &str, what: &str| {
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            assert_eq!(role_label(&cp, &pod.name), role, "{what}");
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    fleet[0].broker.signal("-STOP");
    keeps_label(&fleet[0], "master", "paused master");
    fleet[0].broker.signal("-CONT");

    // A real failover of the first shard (4.9.6 master/slave: the slave is restarted as brokerId 0 on
    // its own store, the old master comes back as its slave). The labels follow both flips; while the
    // old master is down its label stays (a failed probe changes nothing).
    fleet[0].broker.kill();
    fleet[1].broker.stop();
    fleet[1].broker = restart_as(&fleet[1], &ns, 0, "ASYNC_MASTER");
    cp.wait("the promoted slave labelled master", Duration::from_secs(60), |cp| {
        role_label(cp, &fleet[1].name) == "master"
    });
    assert_eq!(role_label(&cp, &fleet[0].name), "master", "a dead pod keeps its last label");
    fleet[0].broker = restart_as(&fleet[0], &ns, 1, "SLAVE");
    cp.wait("the old master labelled slave", Duration::from_secs(60), |cp| role_label(cp, &fleet[0].name) == "slave");

    // Shard scale-in on 1.0.2 with a backlog and a producer still sending: the controller never calls
    // shardRemove (controllers/apps/cluster/transformer_cluster_component.go has no such step), but it
    // runs the ComponentDefinition's preTerminate before deleting the removed shard's Component, and
    // holds the deletion while it fails. The exec variant is left to KubeBlocks' own error backoff.
    let removal = remove_shard_with_backlog(&cp, &fleet, &ns, 1, false);
    assert!(removal.held_for >= Duration::from_secs(60) && removal.sent > 0);
    println!(
        "exec: held {:.0} s, removed {:.0} s after the consumer caught up (KubeBlocks' backoff, no poke)",
        removal.held_for.as_secs_f64(),
        removal.consumed_to_gone.as_secs_f64()
    );
    let removed_master = fleet.iter().find(|p| p.comp == removal.comp && p.name.ends_with("-0")).unwrap();
    let log = fleet.iter().filter(|p| p.comp == removal.comp).map(|p| p.agent.logs()).collect::<String>();
    assert!(log.contains("preTerminate"), "kbagent ran preTerminate on {}: {log}", removed_master.name);
    for p in &fleet {
        assert!(!p.agent.logs().to_lowercase().contains("shardremove"), "1.0.2 never calls shardRemove");
    }
    // The kubelet stand-in stops the removed pods' processes.
    fleet.retain(|p| p.comp != removal.comp);
    let live: Vec<&Pod> = fleet.iter().collect();

    // On the shard left, a killed master (a closed port) keeps its label too.
    let (master, slave) = if live[0].name.ends_with("-0") && role_label(&cp, &live[0].name) == "master" {
        (live[0], live[1])
    } else {
        (live[1], live[0])
    };
    master.broker.kill();
    keeps_label(master, "master", "killed master (closed port)");
    assert_eq!(role_label(&cp, &slave.name), "slave");

    // A static key (4.9.6 reads it only at startup): KubeBlocks' policy is a restart. The file gets the
    // value and the InstanceSet rolls the pods (new pod UIDs).
    // A pod being replaced is gone for a moment: its UID reads as empty then.
    let uids = |cp: &ControlPlane| -> Vec<String> {
        let now = pods(cp, "apps.kubeblocks.io/sharding-name=broker");
        let uid =
            |name: &str| now.iter().find(|p| p["metadata"]["name"] == name).map(|p| p["metadata"]["uid"].to_string());
        live.iter().map(|p| uid(&p.name).unwrap_or_default()).collect()
    };
    let before = uids(&cp);
    std::fs::write(&file, ops("static", "adminBrokerThreadPoolNums", "17")).unwrap();
    cp.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    cp.wait("pods restarted for a static key", Duration::from_secs(90), |cp| {
        let now = uids(cp);
        now.iter().zip(&before).any(|(a, b)| a != b)
    });
    for p in &live {
        sync_config(&cp, &p.comp, &p.dir);
    }
    let conf = std::fs::read_to_string(slave.dir.join("kb-config/broker.conf")).unwrap();
    // KubeBlocks' props-plus writer puts spaces around `=`, as Java properties allow.
    assert!(conf.replace(' ', "").contains("adminBrokerThreadPoolNums=17"), "{conf}");
    // The sidecar still persists it in the broker's own config (persisted-only keys are sent: 4.9.6
    // writes them to its file), so the restarted broker starts with it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while config_value(&slave.broker.addr(), "adminBrokerThreadPoolNums") != "17" {
        assert!(Instant::now() < deadline, "not persisted");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The HTTP variant on its own control plane: three one-broker shards. A shard whose master is down is
/// held ("cannot tell") until the operator skips the check; then `shards: 2 -> 1` with a backlog is
/// held until consumed (re-checked at once through a Component update); and deleting the whole
/// Cluster is not held by a backlog.
#[test]
fn kubeblocks_1_0_2_holds_a_shard_removal_through_the_http_variant_until_nothing_would_be_lost() {
    let _turn = turn();
    let cp = install(Variant::Http);
    let example = std::fs::read_to_string(common::root().join("deploy/kubeblocks/cluster-example.yaml")).unwrap();
    // The example names the exec definitions (its comments say how to use the HTTP ones).
    let http = example
        .replace("rocketmq-sidecar-shards-exec", "rocketmq-sidecar-shards-http")
        .replace("rocketmq-sidecar-broker4-exec", "rocketmq-sidecar-broker4-http")
        .replace("shards: 2", "shards: 3")
        .replace("        replicas: 2", "        replicas: 1");
    let file = scratch("cp-http-cluster").join("cluster.yaml");
    std::fs::write(&file, http).unwrap();
    cp.kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    cp.wait("3 broker pods", Duration::from_secs(90), |cp| {
        pods(cp, "apps.kubeblocks.io/sharding-name=broker").len() == 3
    });
    let namesrv = start_namesrv_pod(&cp, "127.0.0.20");
    let ns = namesrv.addr();
    let mut fleet = start_pods(&cp, &ns, Variant::Http, 12);
    wait_role_labels(&cp, &fleet);

    // 3 -> 2 with a backlog on every shard, and the removed shard's master down: nothing can be told,
    // so the removal is held until the operator skips the check (and accepts the loss).
    for (i, p) in fleet.iter().enumerate() {
        common::unconsumed(&p.broker.addr(), &ns, &format!("HeldTopic{i}"), "held-group", 1);
    }
    set_shards(&cp, 2);
    let comp = deleting_component(&cp);
    let down = fleet.iter().find(|p| p.comp == comp).unwrap();
    down.broker.kill();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !warnings(&cp, &comp).iter().any(|m| m.contains("not removed yet") && m.contains(&down.broker.addr())) {
        assert!(components(&cp).contains(&comp), "{comp} deleted with its master down");
        assert!(Instant::now() < deadline, "no Warning event for the down master: {:?}", warnings(&cp, &comp));
        poke(&cp, &comp);
        std::thread::sleep(Duration::from_secs(2));
    }
    eprintln!("{comp} held, master down: {:?}", warnings(&cp, &comp).last());
    assert!(components(&cp).contains(&comp));
    let skip = format!("{}=true", rocketmq_sidecar::guard::SKIP_ANNOTATION);
    cp.kubectl(&["annotate", "component", &comp, "-n", "default", &skip]);
    cp.wait("the skipped shard gone", Duration::from_secs(120), |cp| !components(cp).contains(&comp));
    fleet.retain(|p| p.comp != comp);
    // The operator deletes the group nobody will consume (the way out the Warning event names).
    for p in &fleet {
        common::delete_group(&p.broker.addr(), "held-group");
    }

    // 2 -> 1 with a push consumer group behind and a producer sending: held, then removed once
    // consumed; the test has KubeBlocks re-check at once once the consumer caught up.
    let removal = remove_shard_with_backlog(&cp, &fleet, &ns, 1, true);
    println!(
        "http: held {:.0} s, removed {:.1} s after the consumer caught up (Component re-checked every 5 s)",
        removal.held_for.as_secs_f64(),
        removal.consumed_to_gone.as_secs_f64()
    );
    fleet.retain(|p| p.comp != removal.comp);

    // Deleting the whole Cluster: preTerminate runs without KB_CLUSTER_COMPONENT_IS_SCALING_IN and lets it
    // go at once, backlog or not; the last broker is not touched.
    let last = &fleet[0];
    common::unconsumed(&last.broker.addr(), &ns, "FinalTopic", "final-group", 1);
    assert_eq!(config_value(&last.broker.addr(), "brokerPermission"), "6");
    cp.kubectl(&["delete", "cluster", "rocketmq-demo", "-n", "default", "--wait=false"]);
    cp.wait("the Cluster gone", Duration::from_secs(180), |cp| {
        !cp.kubectl_ok(&["get", "cluster", "rocketmq-demo", "-n", "default"])
    });
    assert!(components(&cp).is_empty());
    assert!(
        last.agent.logs().contains("preTerminate"),
        "preTerminate ran for the cluster deletion: {}",
        last.agent.logs()
    );
    assert_eq!(config_value(&last.broker.addr(), "brokerPermission"), "6", "a cluster deletion changes no broker");
}
