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

use common::kb::{rendered, KbAgent, SIDECAR};
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
    _agent: KbAgent,
}

fn config_value(broker: &str, key: &str) -> String {
    let run = sidecar(&["config", "get", "--broker", broker], &[], Duration::from_secs(10));
    let prefix = format!("{key}=");
    run.stdout.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_string()
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
    for value in env.values_mut() {
        for (from, to) in mounts {
            *value = value.replace(from, to);
        }
    }
    env
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
    let _ = rendered("exec");
    let available = |kind: &str, name: &str| {
        let kind = kind.to_string();
        let name = name.to_string();
        move |cp: &ControlPlane| cp.get(&[&kind, &name])["status"]["phase"] == "Available"
    };
    cp.wait(
        "ComponentDefinition",
        Duration::from_secs(60),
        available("componentdefinition", "rocketmq-sidecar-broker4-exec-0.1.0"),
    );
    cp.wait(
        "ShardingDefinition",
        Duration::from_secs(60),
        available("shardingdefinition", "rocketmq-sidecar-shards-exec"),
    );
    cp.wait(
        "ParamConfigRenderer",
        Duration::from_secs(60),
        available("paramconfigrenderer", "rocketmq-sidecar-render-broker4-exec"),
    );
    cp.wait(
        "ParametersDefinition",
        Duration::from_secs(60),
        available("parametersdefinition", "rocketmq-sidecar-params-broker4-exec"),
    );
    cp.wait(
        "namesrv stand-in",
        Duration::from_secs(60),
        available("componentdefinition", "rocketmq-namesrv-4-standin"),
    );

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
    let mut fleet = Vec::new();
    for (name, comp, ip, dir, broker) in running {
        let _ = &comp;
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
        fleet.push(Pod { name, comp, dir, broker, _serve: serve, _agent: agent });
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

    // The periodic roleProbe failing (a paused master, then a killed one: a closed port): kbagent reports
    // failures, the controller ignores them, and the label stays; it is never turned into another role.
    let keeps_label = |pod: &Pod, what: &str| {
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            assert_eq!(role_label(&cp, &pod.name), "master", "{what}");
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    fleet[0].broker.signal("-STOP");
    keeps_label(&fleet[0], "paused master");
    fleet[0].broker.signal("-CONT");
    fleet[2].broker.kill();
    keeps_label(&fleet[2], "killed master (closed port)");
    assert_eq!(role_label(&cp, &fleet[3].name), "slave");

    // A static key (4.9.6 reads it only at startup): KubeBlocks' policy is a restart. The file gets the
    // value and the InstanceSet rolls the pods (new pod UIDs).
    // A pod being replaced is gone for a moment: its UID reads as empty then.
    let uids = |cp: &ControlPlane| -> Vec<String> {
        let out = cp
            .kubectl_cmd(&[
                "get",
                "pods",
                "-n",
                "default",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.metadata.uid} {end}",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let by_name: BTreeMap<&str, &str> = text.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
        fleet.iter().map(|p| by_name.get(p.name.as_str()).copied().unwrap_or_default().to_string()).collect()
    };
    let before = uids(&cp);
    std::fs::write(&file, ops("static", "adminBrokerThreadPoolNums", "17")).unwrap();
    cp.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    cp.wait("pods restarted for a static key", Duration::from_secs(90), |cp| {
        let now = uids(cp);
        now.iter().zip(&before).any(|(a, b)| a != b)
    });
    for p in &fleet {
        sync_config(&cp, &p.comp, &p.dir);
    }
    let conf = std::fs::read_to_string(fleet[0].dir.join("kb-config/broker.conf")).unwrap();
    // KubeBlocks' props-plus writer puts spaces around `=`, as Java properties allow.
    assert!(conf.replace(' ', "").contains("adminBrokerThreadPoolNums=17"), "{conf}");
    // The sidecar still persists it in the broker's own config (persisted-only keys are sent: 4.9.6
    // writes them to its file), so the restarted broker starts with it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while config_value(&fleet[0].broker.addr(), "adminBrokerThreadPoolNums") != "17" {
        assert!(Instant::now() < deadline, "not persisted");
        std::thread::sleep(Duration::from_millis(500));
    }
}
