//! The shipped manifests on a real KubeBlocks v1.0.2 control plane (etcd + kube-apiserver + the
//! KubeBlocks manager, built from Go modules), with real RocketMQ 4.9.6 brokers, `rocketmq-sidecar
//! serve` and the real kbagent as each pod's processes. The test stands in for the kubelet only: it
//! patches pod status (Running, Ready, the spec's images, a podIP of 127.0.0.N per pod), runs each pod's
//! processes locally with the env the controller put in the pod spec, and copies ConfigMaps into the
//! mounted paths. Everything else is KubeBlocks' own controllers deciding.
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::kb::{config_value, remap, KbAgent, SIDECAR};
use common::kube::ControlPlane;
use common::{free_port, scratch, sidecar, BrokerSpec, Proc, Serve};
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

#[test]
fn kubeblocks_1_0_2_reconciles_the_shipped_manifests_into_broker_pods_whose_hooks_fire() {
    let cp = ControlPlane::start();
    let root = common::root();
    cp.kubectl(&[
        "apply",
        "--server-side",
        "-f",
        root.join("tests/data/kubeblocks/addon-standin.yaml").to_str().unwrap(),
    ]);
    cp.kubectl(&["apply", "--server-side", "-k", root.join("deploy/kubeblocks/exec").to_str().unwrap()]);
    for (kind, name) in [
        ("componentdefinition", "rocketmq-sidecar-broker4-exec-0.1.0"),
        ("shardingdefinition", "rocketmq-sidecar-shards-exec"),
        ("paramconfigrenderer", "rocketmq-sidecar-render-broker4-exec"),
        ("parametersdefinition", "rocketmq-sidecar-params-broker4-exec"),
        ("componentdefinition", "rocketmq-namesrv-4-standin"),
    ] {
        cp.wait(&format!("{kind} {name} Available"), Duration::from_secs(60), |cp| {
            cp.get(&[kind, name])["status"]["phase"] == "Available"
        });
    }

    cp.kubectl(&[
        "apply",
        "--server-side",
        "-f",
        root.join("deploy/kubeblocks/cluster-example.yaml").to_str().unwrap(),
    ]);
    let broker_pods = |cp: &ControlPlane| pods(cp, "apps.kubeblocks.io/sharding-name=broker");
    cp.wait("4 broker pods", Duration::from_secs(90), |cp| broker_pods(cp).len() == 4);
    let spec_pods = broker_pods(&cp);
    for p in &spec_pods {
        let containers: Vec<&str> =
            p["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert!(containers.contains(&"rocketmq-sidecar") && containers.contains(&"kbagent"), "{containers:?}");
    }
    // Components are named <cluster>-<shard>; the label holds the shard's own name.
    let comps: std::collections::BTreeSet<String> = spec_pods
        .iter()
        .map(|p| {
            format!("rocketmq-demo-{}", p["metadata"]["labels"]["apps.kubeblocks.io/component-name"].as_str().unwrap())
        })
        .collect();
    assert_eq!(comps.len(), 2, "{comps:?}");

    // The name server pod, and our real name server.
    let ns_dir = scratch("cp-namesrv");
    let namesrv = common::start_namesrv(&ns_dir);
    namesrv.wait_ready();
    let ns = namesrv.addr();
    cp.wait("namesrv pod", Duration::from_secs(60), |cp| {
        !pods(cp, "apps.kubeblocks.io/component-name=namesrv").is_empty()
    });
    for p in pods(&cp, "apps.kubeblocks.io/component-name=namesrv") {
        mark_running(&cp, &p, "127.0.0.10");
    }

    // Each broker pod: its address, its ConfigMap copy, its broker, serve and kbagent.
    let mut running = Vec::new();
    for (i, comp) in comps.iter().enumerate() {
        for ordinal in 0..2u32 {
            let name = format!("{comp}-{ordinal}");
            let ip = format!("127.0.0.{}", 2 + i * 2 + ordinal as usize);
            let dir = scratch(&format!("cp-{name}"));
            std::fs::create_dir_all(dir.join("kb-config")).unwrap();
            cp.wait(&format!("{comp}-rocketmq-broker-config rendered"), Duration::from_secs(60), |cp| {
                cp.kubectl_ok(&["get", "configmap", &format!("{comp}-rocketmq-broker-config"), "-n", "default"])
            });
            sync_config(&cp, comp, &dir);
            let conf = std::fs::read_to_string(dir.join("kb-config/broker.conf")).unwrap();
            assert!(conf.contains("maxMessageSize=4194304"), "props-plus keeps the keys as written: {conf}");
            let role = if ordinal == 0 { "ASYNC_MASTER" } else { "SLAVE" };
            let spec = BrokerSpec {
                home: dir.join("broker"),
                port: free_port(),
                namesrv: &ns,
                name: comp,
                id: ordinal,
                role,
                acl: false,
            };
            let broker = common::start_broker(&spec);
            running.push((name, comp.clone(), ip, dir, broker));
        }
    }
    for (_, _, _, _, b) in &running {
        b.wait_ready();
    }
    let mut fleet: Vec<Pod> = Vec::new();
    for (name, comp, ip, dir, broker) in running {
        let pod = cp.get(&["pod", &name, "-n", "default"]);
        mark_running(&cp, &pod, &ip);
        let pod = cp.get(&["pod", &name, "-n", "default"]);
        let serve = Serve::start(&[
            "--broker",
            &broker.addr(),
            "--namesrv",
            &ns,
            "--config-file",
            dir.join("kb-config/broker.conf").to_str().unwrap(),
        ]);
        let kb_config = format!("{}/", dir.join("kb-config").display());
        let mut env =
            kbagent_env(&cp, &pod, &[("/sidecar-bin/rocketmq-sidecar", SIDECAR), ("/kb-config/", &kb_config)]);
        assert!(env.contains_key("KB_AGENT_ACTION") && env.contains_key("KB_AGENT_PROBE"), "{env:?}");
        // The pod's own network namespace would make these 127.0.0.1:$BROKER_PORT and the FQDNs.
        env.insert("ROCKETMQ_SIDECAR_BROKER".into(), broker.addr());
        env.insert("NAMESRV_ADDR".into(), ns.clone());
        env.insert("KUBECONFIG".into(), cp.kubeconfig.display().to_string());
        env.insert("PATH".into(), std::env::var("PATH").unwrap());
        let agent = KbAgent::start(&ip, 3501, &env);
        fleet.push(Pod { name, comp, dir, broker, _serve: serve, agent });
    }

    // Role labels from kbagent's roleProbe events, set by the instanceset controller.
    cp.wait("role labels", Duration::from_secs(90), |cp| {
        fleet.iter().all(|p| role_label(cp, &p.name) == if p.name.ends_with("-0") { "master" } else { "slave" })
    });
    eprintln!(
        "role labels: {:?}",
        fleet.iter().map(|p| (p.name.clone(), role_label(&cp, &p.name))).collect::<Vec<_>>()
    );

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

    // Shard scale-in on 1.0.2, with unconsumed messages on both shards: the controller never hands
    // shardRemove to kbagent (1.0.2's controllers/apps/cluster/transformer_cluster_component.go has no
    // such step) and deletes the shard anyway. The guard would have refused: an operator on 1.0.x runs
    // `scale-in drain` / `scale-in check` first (deploy/README.md).
    let masters: Vec<usize> = vec![1, 2];
    for &i in &masters {
        common::unconsumed(&fleet[i].broker.addr(), &ns, &format!("ScaleInTopic{i}"), "scale-in-group", 1);
    }
    cp.kubectl(&[
        "patch",
        "cluster",
        "rocketmq-demo",
        "-n",
        "default",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/shardings/0/shards","value":1}]"#,
    ]);
    let components = |cp: &ControlPlane| -> Vec<String> {
        let out = cp.kubectl(&["get", "components", "-n", "default", "-o", "name"]);
        out.lines()
            .filter(|l| l.contains("rocketmq-demo-broker-"))
            .map(|l| l.trim_start_matches("component.apps.kubeblocks.io/").to_string())
            .collect()
    };
    cp.wait("one shard left", Duration::from_secs(90), |cp| components(cp).len() == 1);
    let kept = components(&cp).remove(0);
    let removed: Vec<&Pod> = fleet.iter().filter(|p| p.comp != kept).collect();
    assert_eq!(removed.len(), 2);
    let removed_master = masters.iter().map(|&i| &fleet[i]).find(|p| p.comp != kept).unwrap();
    let check =
        sidecar(&["scale-in", "check", "--broker", &removed_master.broker.addr()], &[], Duration::from_secs(30));
    assert_eq!(check.code, Some(1), "the guard would have blocked it: {}{}", check.stdout, check.stderr);
    for p in &fleet {
        // kbagent logs every action it runs ("Action Executed"): only its own roleProbe ran.
        let log = p.agent.logs();
        let others: Vec<&str> =
            log.lines().filter(|l| l.contains("Action Executed") && !l.contains("roleProbe")).collect();
        assert!(others.is_empty(), "1.0.2 called an action on {}: {others:?}", p.name);
        assert!(!log.to_lowercase().contains("shardremove"), "{}: {log}", p.name);
    }
    eprintln!("1.0.2 removed shard {} with a backlog, without calling shardRemove", removed[0].comp);
    let live: Vec<&Pod> = fleet.iter().filter(|p| p.comp == kept).collect();

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
