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
//!
//! Each test runs on a control plane of its own: their own directories and pod addresses (exec
//! 127.0.0.2 on and .10, HTTP .12 on and .20), every port reserved, so they run at once: most of
//! their time is waiting (the 45 s read-only hold, KubeBlocks' backoff, rolls), and the HTTP test
//! (about 2 min alone) ends inside the exec one (about 4.5 min alone).
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::kb::{config_value, remap, rendered, yaml_documents, KbAgent, SIDECAR};
use common::kube::ControlPlane;
use common::{free_port, scratch, BrokerSpec, Helper, Proc, Serve};
use serde_json::Value;

/// One broker pod as the kubelet would run it.
struct Pod {
    name: String,
    comp: String,
    /// The pod's own address (127.0.0.N): kbagent listens there.
    ip: String,
    dir: PathBuf,
    broker: Proc,
    /// The sidecar container (none once rolled back to the addon's definition).
    _serve: Option<Serve>,
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
    start_broker_on(&pod.dir, pod.broker.port, &pod.comp, namesrv, id, role)
}

/// Starts the broker kept under `dir` on its store and `port`, as brokerId `id` with `role`.
fn start_broker_on(dir: &std::path::Path, port: u16, comp: &str, namesrv: &str, id: u32, role: &str) -> Proc {
    let home = dir.join("broker");
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
    let spec = BrokerSpec { home, port, namesrv, name: comp, id, role, acl: false };
    let broker = common::start_broker(&spec);
    broker.wait_ready();
    broker
}

const TOPIC: &str = "ScaleInTopic";
const GROUP: &str = "scale-in-group";

/// The image README's quickstart builds and names in its kustomize overlay (`images:`).
const IMAGE: &str = "registry.example.com/you/rocketmq-sidecar:0.1.0";

/// The shell block of README.md right after the line `<!-- readme-block: NAME -->`: the commands an
/// operator runs, which the tests run as they are.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let marker = format!("<!-- readme-block: {name} -->");
    let after = readme.split_once(&marker).unwrap_or_else(|| panic!("README has no {marker}")).1;
    let body = after.trim_start().strip_prefix("```sh\n").unwrap_or_else(|| panic!("{marker}: no ```sh block"));
    body.split_once("```").unwrap().0.to_string()
}

/// Runs README block `name` (after `edit`) with bash, as an operator would from a checkout: from a
/// copy of the repository's deploy/ files, with kubectl pointed at this control plane.
fn run_readme_block(cp: &ControlPlane, name: &str, edit: impl Fn(String) -> String) {
    // Under the control plane's own directory: both tests install at once, and a shared scratch
    // name let one test's scratch() delete the other's copy under its kubectl (seen once in a
    // clean-clone run: "getwd: no such file or directory").
    let dir = cp.dir.join(format!("readme-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let copied = std::process::Command::new("cp").arg("-r").arg(common::root().join("deploy")).arg(&dir).status();
    assert!(copied.unwrap().success());
    let script = edit(readme_block(name));
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env("KUBECONFIG", &cp.kubeconfig)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "README block {name}:\n{script}\n{text}");
    eprintln!("README block {name}: {text}");
}

/// A fresh control plane with the addon stand-in and one shipped set installed the way README's
/// quickstart does it (a kustomize overlay that sets the image), its definitions Available.
fn install(variant: Variant) -> ControlPlane {
    let cp = ControlPlane::start();
    let root = common::root();
    let standin = root.join("tests/data/kubeblocks/addon-standin.yaml");
    cp.kubectl(&["apply", "--server-side", "-f", standin.to_str().unwrap()]);
    let v = variant.dir();
    run_readme_block(&cp, "install", |block| {
        block.replace("deploy/kubeblocks/exec", &format!("deploy/kubeblocks/{v}"))
    });
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

/// The overlay's image reached every place the sidecar runs from: its container and, in the exec
/// variant, the init container that installs the binary for the actions.
fn assert_images_overridden(pods: &[Value]) {
    for p in pods {
        let images: Vec<(&str, &str)> = ["containers", "initContainers"]
            .iter()
            .flat_map(|k| p["spec"][k].as_array().into_iter().flatten())
            .filter(|c| c["image"].as_str().is_some_and(|i| i.contains("rocketmq-sidecar")))
            .map(|c| (c["name"].as_str().unwrap(), c["image"].as_str().unwrap()))
            .collect();
        assert!(!images.is_empty() && images.iter().all(|(_, i)| *i == IMAGE), "{images:?}");
    }
}

/// The label selector of deploy/kubeblocks/podmonitor.yaml, as `kubectl get -l` takes it.
fn podmonitor_selector() -> String {
    let text = std::fs::read_to_string(common::root().join("deploy/kubeblocks/podmonitor.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let labels = doc["spec"]["selector"]["matchLabels"].as_mapping().unwrap();
    labels.iter().map(|(k, v)| format!("{}={}", k.as_str().unwrap(), v.as_str().unwrap())).collect::<Vec<_>>().join(",")
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

/// How long a removal with a backlog is watched being held once the leaving shard is read-only:
/// the producers refresh their routes every 30 s, and 10 s of sends after that are checked.
const HOLD_READ_ONLY_MS: i64 = 45_000;

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
    let addrs: Vec<String> = masters.iter().map(|m| m.broker.addr()).collect();
    common::routed_topic(ns, &addrs, TOPIC, 4);
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
    // Held until it has been read-only for HOLD_READ_ONLY: past the producers' route refresh, so
    // that what they send after it can be checked below.
    while now_ms() < read_only_at + HOLD_READ_ONLY_MS {
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
        let dir = scratch(&format!("cp-{}-{name}", variant.dir()));
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
    running
        .into_iter()
        .map(|(name, comp, ip, dir, broker)| {
            broker.wait_ready();
            start_pod(cp, PodParts { name, comp, ip, dir, broker }, ns, variant)
        })
        .collect()
}

/// What outlives a pod's processes: its name, Component, address, directory and broker process.
struct PodParts {
    name: String,
    comp: String,
    ip: String,
    dir: PathBuf,
    broker: Proc,
}

impl Pod {
    /// Stops the pod's sidecar and kbagent (a pod replaced by its InstanceSet), keeping the rest.
    fn stop(self) -> PodParts {
        let Pod { name, comp, ip, dir, broker, _serve, agent } = self;
        drop((_serve, agent));
        PodParts { name, comp, ip, dir, broker }
    }
}

/// The kubelet's part for one running broker pod of the shipped definitions: the pod marked Running at
/// its address, `serve` as the sidecar container, and kbagent with the env of the pod's spec.
fn start_pod(cp: &ControlPlane, parts: PodParts, ns: &str, variant: Variant) -> Pod {
    let PodParts { name, comp, ip, dir, broker } = parts;
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
    Pod { name, comp, ip, dir, broker, _serve: Some(serve), agent }
}

/// The broker of `parts` as a replaced pod's broker container starts it: on its own store, with the
/// brokerId and role its config holds (a failover may have changed them); stopped first if running.
fn restart_broker(parts: PodParts, ns: &str) -> PodParts {
    let conf = std::fs::read_to_string(parts.dir.join("broker/broker.conf")).unwrap();
    let value = |key: &str| {
        conf.lines().find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == key).map(|(_, v)| v.trim().to_string()))
    };
    let id: u32 = value("brokerId").and_then(|v| v.parse().ok()).unwrap_or(0);
    let role = value("brokerRole").unwrap_or_else(|| "ASYNC_MASTER".into());
    if parts.broker.alive() {
        parts.broker.stop();
    }
    let broker = start_broker_on(&parts.dir, parts.broker.port, &parts.comp, ns, id, &role);
    PodParts { broker, ..parts }
}

/// The kubelet's part in a rolling update of `fleet`: the InstanceSet replaces the pods one at a time
/// and waits for each new one to run (and to carry a role) before the next. Each new pod (a new UID
/// whose spec passes `rolled`) gets its processes from `start` as soon as it appears.
fn follow_roll(
    cp: &ControlPlane,
    fleet: Vec<Pod>,
    rolled: impl Fn(&Value) -> bool,
    mut start: impl FnMut(Pod, &Value) -> Pod,
) -> Vec<Pod> {
    let find = |name: &str| {
        let found = cp.get(&["pods", "-n", "default", "--field-selector", &format!("metadata.name={name}")]);
        found["items"].as_array().and_then(|i| i.first()).cloned()
    };
    let mut waiting: Vec<(Pod, Value)> = fleet
        .into_iter()
        .map(|p| {
            let uid = find(&p.name).map(|pod| pod["metadata"]["uid"].clone()).unwrap_or_default();
            (p, uid)
        })
        .collect();
    let mut done = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    while !waiting.is_empty() {
        assert!(Instant::now() < deadline, "pods not replaced: {}{}", describe(cp), cp.manager_tail());
        let next = waiting
            .iter()
            .position(|(p, old)| find(&p.name).is_some_and(|pod| pod["metadata"]["uid"] != *old && rolled(&pod)));
        let Some(i) = next else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        let (old, _) = waiting.remove(i);
        let pod = find(&old.name).unwrap();
        eprintln!("{} replaced: starting its processes", old.name);
        done.push(start(old, &pod));
    }
    done
}

/// Role labels from kbagent's roleProbe events, set by the instanceset controller: ordinal 0 master.
fn wait_role_labels(cp: &ControlPlane, fleet: &[Pod]) {
    cp.wait("role labels", Duration::from_secs(90), |cp| {
        fleet.iter().all(|p| role_label(cp, &p.name) == if p.name.ends_with("-0") { "master" } else { "slave" })
    });
    eprintln!("role labels: {:?}", fleet.iter().map(|p| (p.name.clone(), role_label(cp, &p.name))).collect::<Vec<_>>());
}

#[test]
fn kubeblocks_1_0_2_reconciles_the_shipped_manifests_into_broker_pods_whose_hooks_fire() {
    let cp = install(Variant::Exec);
    run_readme_block(&cp, "cluster", |block| block);
    let broker_pods = |cp: &ControlPlane| pods(cp, "apps.kubeblocks.io/sharding-name=broker");
    cp.wait("4 broker pods", Duration::from_secs(90), |cp| broker_pods(cp).len() == 4);
    for p in &broker_pods(&cp) {
        let containers: Vec<&str> =
            p["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert!(containers.contains(&"rocketmq-sidecar") && containers.contains(&"kbagent"), "{containers:?}");
    }
    assert_images_overridden(&broker_pods(&cp));
    // The PodMonitor picks exactly these pods, by labels KubeBlocks and the definition put on them.
    assert_eq!(pods(&cp, &podmonitor_selector()).len(), 4, "the PodMonitor's selector: {}", podmonitor_selector());
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
    assert!(removal.held_for >= Duration::from_millis(HOLD_READ_ONLY_MS as u64) && removal.sent > 0);
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
    // value and the InstanceSet rolls the pods (new pod UIDs); the kubelet stand-in starts each new
    // pod's containers (the killed master's broker comes back too) with the file as it now is.
    let slave_name = slave.name.clone();
    drop(live);
    std::fs::write(&file, ops("static", "adminBrokerThreadPoolNums", "17")).unwrap();
    cp.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    let fleet = follow_roll(
        &cp,
        fleet,
        |_| true,
        |old, _| {
            sync_config(&cp, &old.comp, &old.dir);
            start_pod(&cp, restart_broker(old.stop(), &ns), &ns, Variant::Exec)
        },
    );
    let slave = fleet.iter().find(|p| p.name == slave_name).unwrap();
    let conf = std::fs::read_to_string(slave.dir.join("kb-config/broker.conf")).unwrap();
    // KubeBlocks' props-plus writer puts spaces around `=`, as Java properties allow.
    assert!(conf.replace(' ', "").contains("adminBrokerThreadPoolNums=17"), "{conf}");
    // The restarted broker runs it (the sidecar also sends persisted-only keys: 4.9.6 writes them to its
    // own config file).
    let deadline = Instant::now() + Duration::from_secs(30);
    while config_value(&slave.broker.addr(), "adminBrokerThreadPoolNums") != "17" {
        assert!(Instant::now() < deadline, "not persisted");
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_labels_match_brokers(&cp, &fleet);
    roll_back_to_the_shell_actions(&cp, fleet, &ns);
}

/// Each pod labelled with its broker's role as the broker's own config says it (brokerId 0: master).
fn wait_labels_match_brokers(cp: &ControlPlane, fleet: &[Pod]) {
    let expected = |p: &Pod| {
        let conf = std::fs::read_to_string(p.dir.join("broker/broker.conf")).unwrap();
        if conf.lines().any(|l| l.replace(' ', "") == "brokerId=0") {
            "master"
        } else {
            "slave"
        }
    };
    cp.wait("role labels of the brokers' own roles", Duration::from_secs(90), |cp| {
        fleet.iter().all(|p| role_label(cp, &p.name) == expected(p))
    });
    eprintln!("role labels: {:?}", fleet.iter().map(|p| (p.name.clone(), role_label(cp, &p.name))).collect::<Vec<_>>());
}

/// Every broker pod: name, UID, phase, containers and role label (for a failure message).
fn describe(cp: &ControlPlane) -> String {
    let all = pods(cp, "apps.kubeblocks.io/sharding-name=broker");
    let rows: Vec<String> = all
        .iter()
        .map(|p| {
            let containers: Vec<&str> =
                p["spec"]["containers"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
            format!(
                "{} uid={} phase={} role={} containers={containers:?}",
                p["metadata"]["name"],
                p["metadata"]["uid"],
                p["status"]["phase"],
                p["metadata"]["labels"]["kubeblocks.io/role"]
            )
        })
        .collect();
    format!("{rows:#?}\ninstancesets: {}", cp.kubectl(&["get", "instancesets", "-n", "default", "-o", "wide"]))
}

/// The rocketmq addon's own broker definitions, stood in for (its Helm chart is not rendered here):
/// the shipped exec ComponentDefinition without anything of the sidecar (its container, the init
/// container and volume that install the binary, the exporter, the label) and with the addon's one
/// shell action, the roleProbe `/scripts/get-role.sh` every 5 s with a 3 s timeout; named the way the
/// addon names it (`rocketmq-broker-4-<chart version>`), with parameters objects bound to it. The
/// kubelet stand-in runs tests/data/kubeblocks/get-role-standin.sh for that script.
fn apply_addon_broker_standin(cp: &ControlPlane) {
    const NAME: &str = "rocketmq-broker-4-1.0.0-standin";
    let mut docs = yaml_documents(&rendered("exec"));
    let mut out = Vec::new();
    for doc in docs.iter_mut() {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "ComponentDefinition" => {
                doc["metadata"]["name"] = NAME.into();
                let spec = doc["spec"].as_mapping_mut().unwrap();
                spec.remove("exporter");
                spec.remove("labels");
                spec.insert("description".into(), "stand-in for the rocketmq addon's broker (shell actions)".into());
                let probe: serde_yaml::Value = serde_yaml::from_str(
                    "roleProbe: {initialDelaySeconds: 10, periodSeconds: 5, timeoutSeconds: 3, exec: {container: rocketmq-broker, image: docker.io/apecloud/rocketmq:4.9.6-r1, command: [/scripts/get-role.sh]}}",
                )
                .unwrap();
                spec.insert("lifecycleActions".into(), probe);
                let runtime = spec.get_mut("runtime").unwrap();
                let not_ours = |v: &serde_yaml::Value| {
                    !v["name"].as_str().is_some_and(|n| n.contains("rocketmq-sidecar") || n == "sidecar-bin")
                };
                for key in ["containers", "initContainers", "volumes"] {
                    if let Some(list) = runtime[key].as_sequence_mut() {
                        list.retain(not_ours);
                    }
                }
                for c in runtime["containers"].as_sequence_mut().unwrap() {
                    if let Some(mounts) = c["volumeMounts"].as_sequence_mut() {
                        mounts.retain(not_ours);
                    }
                }
            }
            "ParamConfigRenderer" => {
                doc["metadata"]["name"] = "rocketmq-broker-4-render-standin".into();
                doc["spec"]["componentDef"] = NAME.into();
                doc["spec"]["parametersDefs"] = serde_yaml::from_str("[rocketmq-broker-4-params-standin]").unwrap();
            }
            "ParametersDefinition" => doc["metadata"]["name"] = "rocketmq-broker-4-params-standin".into(),
            _ => continue,
        }
        out.push(serde_yaml::to_string(doc).unwrap());
    }
    let file = scratch("cp-addon-broker").join("addon-broker.yaml");
    std::fs::write(&file, out.join("---\n")).unwrap();
    cp.kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    cp.wait("the addon's broker definition Available", Duration::from_secs(60), |cp| {
        cp.get(&["componentdefinition", NAME])["status"]["phase"] == "Available"
    });
}

/// README's rollback, in place, on a running shard: the Cluster's shards switch to the addon's broker
/// ComponentDefinition (the one field of an existing shard that can change: 1.0.2 keeps its
/// ShardingDefinition from the Component's label and refuses changes to an Available definition).
/// KubeBlocks rolls the pods onto the addon's spec: no sidecar, the shell roleProbe. The kubelet
/// stand-in starts each new pod's processes (the broker on its own store, kbagent); the role labels
/// come back from the shell probe, and messages still go through.
fn roll_back_to_the_shell_actions(cp: &ControlPlane, fleet: Vec<Pod>, ns: &str) {
    apply_addon_broker_standin(cp);
    let scripts = scratch("cp-addon-scripts");
    std::fs::copy(common::root().join("tests/data/kubeblocks/get-role-standin.sh"), scripts.join("get-role.sh"))
        .unwrap();
    let scripts = format!("{}/", scripts.display());
    run_readme_block(cp, "rollback", |block| block);
    let no_sidecar =
        |pod: &Value| pod["spec"]["containers"].as_array().unwrap().iter().all(|c| c["name"] != "rocketmq-sidecar");
    let fleet = follow_roll(cp, fleet, no_sidecar, |old, _| {
        let PodParts { name, comp, ip, dir, broker } = restart_broker(old.stop(), ns);
        mark_running(cp, &cp.get(&["pod", &name, "-n", "default"]), &ip);
        let pod = cp.get(&["pod", &name, "-n", "default"]);
        let mut env = kbagent_env(cp, &pod, &[("/scripts/", scripts.as_str())]);
        assert!(env["KB_AGENT_ACTION"].contains("get-role.sh"), "the addon's probe: {env:?}");
        env.insert("BROKER_PORT".into(), broker.port.to_string());
        env.insert("KUBECONFIG".into(), cp.kubeconfig.display().to_string());
        env.insert("PATH".into(), std::env::var("PATH").unwrap());
        let agent = KbAgent::start(&ip, 3501, &env);
        Pod { name, comp, ip, dir, broker, _serve: None, agent }
    });
    wait_labels_match_brokers(cp, &fleet);
    // The broker still works: a topic on the master, ten messages sent and consumed through the name server.
    let master = fleet.iter().find(|p| role_label(cp, &p.name) == "master").unwrap();
    common::routed_topic(ns, &[&master.broker.addr()], "RolledBackTopic", 4);
    let sent = common::client(&["produce", ns, "RolledBackTopic", "10", "0"]);
    assert_eq!(sent.iter().filter(|l| l.starts_with("ok ")).count(), 10, "{sent:?}");
    let got = common::client(&["consume", ns, "RolledBackTopic", "rolled-back-group", "10", "60"]);
    assert!(got.iter().any(|l| l.starts_with("consumed ") && l != "consumed 0"), "{got:?}");
    eprintln!("rolled back to the shell actions; labels from get-role.sh, 10 messages sent and consumed");
}

/// The HTTP variant on its own control plane: three one-broker shards. A shard whose master is down is
/// held ("cannot tell") until the operator skips the check; then `shards: 2 -> 1` with a backlog is
/// held until consumed (re-checked at once through a Component update); and deleting the whole
/// Cluster is not held by a backlog.
#[test]
fn kubeblocks_1_0_2_holds_a_shard_removal_through_the_http_variant_until_nothing_would_be_lost() {
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
    assert_images_overridden(&pods(&cp, "apps.kubeblocks.io/sharding-name=broker"));
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
