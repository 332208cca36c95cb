//! The KubeBlocks wiring, run through KubeBlocks' own code (built from source by
//! scripts/kubeblocks.sh) against a real RocketMQ 4.9.6 cluster:
//! - names: KubeBlocks' PrefixOrRegexMatched resolves every shipped reference to exactly one shipped
//!   definition, and none of the rocketmq addon's references to ours (the old names did both);
//! - the real kbagent v1.0.2, started with the KB_AGENT_ACTION / KB_AGENT_PROBE KubeBlocks' own
//!   conversion makes of the shipped ComponentDefinitions, runs every action of both variants as the
//!   controller calls it (`POST /v1.0/action`); failures never yield a role and carry their reason;
//! - KubeBlocks 1.2's Reconfiguring (no 1.2 build is served here): a port of how 1.2 calls the
//!   config template's reconfigure action, KEY VALUE in argv, ends on the broker's live value.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::kb::{config_value, kbagent_env, kbhelper, remap, rendered, yaml_documents, ActionReply, KbAgent, SIDECAR};
use common::{free_port, scratch, Cluster};

#[test]
fn no_shipped_name_can_be_taken_for_another_by_kubeblocks_matching() {
    let example = common::root().join("deploy/kubeblocks/cluster-example.yaml");
    for (lenient, dirs) in [(false, ["exec", "http"]), (true, ["kb-1.2/exec", "kb-1.2/http"])] {
        let files: Vec<String> = dirs.iter().map(|d| rendered(d).display().to_string()).collect();
        let mut args = vec!["names"];
        if lenient {
            args.push("--lenient");
        }
        args.extend(files.iter().map(String::as_str));
        args.push(example.to_str().unwrap());
        let (ok, out, err) = kbhelper(&args);
        assert!(ok, "{dirs:?}: {out}{err}");
        assert!(out.contains("ok: 4 definitions"), "{out}");
        assert!(
            out.contains(
                "rocketmq-sidecar-broker4-exec            -> ours [rocketmq-sidecar-broker4-exec-0.1.0], addon []"
            ),
            "{out}"
        );
    }
    // The names before this check: the exec reference took the HTTP definition too, and the
    // addon's own references (`rocketmq-broker-`, `rocketmq-broker`) took ours.
    let dir = scratch("old-names");
    let old = |file: &Path, pairs: &[(&str, &str)]| {
        let mut text = std::fs::read_to_string(file).unwrap();
        for (new, old) in pairs {
            text = text.replace(new, old);
        }
        let out = dir.join(file.file_name().unwrap()).with_extension(format!("{}.yaml", pairs.len()));
        std::fs::write(&out, text).unwrap();
        out.display().to_string()
    };
    let exec = [
        ("rocketmq-sidecar-broker4-exec", "rocketmq-broker-sidecar-4"),
        ("rocketmq-sidecar-shards-exec", "rocketmq-broker-sidecar"),
    ];
    let http = [("rocketmq-sidecar-broker4-http", "rocketmq-broker-sidecar-4-http")];
    let files = [old(&rendered("exec"), &exec), old(&rendered("http"), &http), old(&example, &exec)];
    let (ok, out, err) = kbhelper(&["names", &files[0], &files[1], &files[2]]);
    assert!(!ok, "{out}");
    assert!(
        err.contains(
            "rocketmq-broker-sidecar-4 matches [rocketmq-broker-sidecar-4-0.1.0 rocketmq-broker-sidecar-4-http-0.1.0]"
        ),
        "{err}"
    );
    assert!(err.contains("rocketmq-broker- would take ours"), "{err}");
    assert!(err.contains("rocketmq-broker would take ours: [rocketmq-broker-sidecar]"), "{err}");
}

/// The demo configures kbagent with scripts/kbagent-env.py instead of building KubeBlocks' packages;
/// it must give what KubeBlocks' own conversion gives for every 1.0 ComponentDefinition.
#[test]
fn the_demo_s_kbagent_env_is_kubeblocks_own_conversion() {
    for variant in ["exec", "http"] {
        let manifest = rendered(variant);
        let (ok, theirs, err) = kbhelper(&["kbagent-env", manifest.to_str().unwrap(), "demo-broker"]);
        assert!(ok, "{err}");
        let script = common::root().join("scripts/kbagent-env.py");
        let ours =
            std::process::Command::new("python3").arg(script).arg(&manifest).arg("demo-broker").output().unwrap();
        assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
        let parse = |text: &[u8]| -> Vec<serde_json::Value> {
            let env: std::collections::BTreeMap<String, String> = serde_json::from_slice(text).unwrap();
            ["KB_AGENT_ACTION", "KB_AGENT_PROBE"].iter().map(|k| serde_json::from_str(&env[*k]).unwrap()).collect()
        };
        assert_eq!(parse(&ours.stdout), parse(theirs.as_bytes()), "{variant}");
    }
}

/// One fake pod's files: its kb-config dir (the mounted ConfigMap) with a broker.conf.
fn pod_dir(name: &str, conf: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("kb-config")).unwrap();
    std::fs::write(dir.join("kb-config/broker.conf"), conf).unwrap();
    dir
}

/// kbagent for one fake pod of `variant`, with the env the controller would give it.
fn agent_for(variant: &str, pod: &Path, broker: &str, namesrv: &str) -> KbAgent {
    let kb_config = format!("{}/", pod.join("kb-config").display());
    let mounts = [("/sidecar-bin/rocketmq-sidecar", SIDECAR), ("/kb-config/", kb_config.as_str())];
    let mut env = kbagent_env(&rendered(variant), "kbtest-broker-0", &mounts);
    for (k, v) in [
        ("KB_AGENT_NAMESPACE", "default"),
        ("KB_AGENT_POD_NAME", "kbtest-broker-0-0"),
        ("KB_AGENT_POD_UID", "00000000-0000-0000-0000-000000000000"),
        ("KB_AGENT_NODE_NAME", "local"),
        // The pod's own network namespace would make it 127.0.0.1:$BROKER_PORT.
        ("ROCKETMQ_SIDECAR_BROKER", broker),
        ("ROCKETMQ_SIDECAR_NAMESRV", namesrv),
        ("BROKER_PORT", "10911"),
    ] {
        env.insert(k.into(), v.into());
    }
    KbAgent::start("127.0.0.1", free_port(), &env)
}

fn assert_failed(reply: &ActionReply, what: &str, reason: &str) {
    assert!(!reply.error.is_empty(), "{what}: succeeded: {reply:?}");
    assert!(!reply.output.contains("master") && !reply.output.contains("slave"), "{what}: a role: {reply:?}");
    assert!(reply.message.contains(reason), "{what}: no {reason:?} in {reply:?}");
}

/// Calls `action` until it fails (a paused broker is noticed within the probe's own timeout, or
/// after the serve loop's next poll); no success in between may carry anything but `allowed`.
fn until_failed(agent: &KbAgent, action: &str, allowed: &str) -> ActionReply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = agent.call(action, &[]);
        if !reply.error.is_empty() {
            return reply;
        }
        assert_eq!(reply.output.trim(), allowed, "{action}");
        assert!(Instant::now() < deadline, "{action} still succeeds: {reply:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_real_kbagent_runs_every_action_of_both_variants_and_failures_carry_their_reason() {
    let c = Cluster::start("kbagent");
    let (ns, master, slave) = (c.namesrv.addr(), c.master.addr(), c.slave.addr());
    let conf = "maxMessageSize=4194305\nwaitTimeMillsInSendQueue=901\n";
    let pod = pod_dir("kbagent-exec-pod", conf);

    // The exec variant: one kbagent per pod (master, slave), commands run by kbagent itself.
    let exec_master = agent_for("exec", &pod, &master, &ns);
    let exec_slave = agent_for("exec", &pod, &slave, &ns);
    let role = exec_master.call("roleProbe", &[]);
    assert_eq!((role.error.as_str(), role.output.trim()), ("", "master"), "{role:?}\n{}", exec_master.logs());
    let role = exec_slave.call("roleProbe", &[]);
    assert_eq!((role.error.as_str(), role.output.trim()), ("", "slave"), "{role:?}");
    let applied = exec_master.call("reconfigure", &[]);
    assert_eq!(applied.error, "", "{applied:?}");
    assert_eq!(config_value(&master, "maxMessageSize"), "4194305");
    let leave = [("KB_LEAVE_MEMBER_POD_NAME", "kbtest-broker-0-1"), ("KB_LEAVE_MEMBER_POD_FQDN", "x")];
    assert_eq!(exec_slave.call("memberLeave", &leave).error, "", "a slave may leave");

    // The HTTP variant: kbagent calls the sidecar in the pod at 127.0.0.1:9897.
    let _serve = common::Serve::start_on(
        "127.0.0.1:9897",
        &[
            "--broker",
            &master,
            "--namesrv",
            &ns,
            "--config-file",
            pod.join("kb-config/broker.conf").to_str().unwrap(),
            "--local-listen",
            "127.0.0.1:9898",
        ],
    );
    let http = agent_for("http", &pod, &master, &ns);
    let role = http.call("roleProbe", &[]);
    assert_eq!((role.error.as_str(), role.output.trim()), ("", "master"), "{role:?}\n{}", http.logs());
    let applied = http.call("reconfigure", &[]);
    assert_eq!(applied.error, "", "{applied:?}");
    assert_eq!(http.call("memberLeave", &leave).error, "", "no backlog yet: {:?}", http.call("memberLeave", &leave));

    // Backlog: both variants refuse, and say why (kbagent keeps only stderr / the body).
    common::unconsumed(&master, &ns, "KbAgentBacklog", "kb-agent-backlog-group", 2);
    let refused = exec_master.call("memberLeave", &leave);
    assert_failed(&refused, "exec memberLeave with backlog", "exit code: 1");
    assert!(
        refused.message.contains("6 unconsumed message(s)") && refused.message.contains("kb-agent-backlog-group"),
        "{refused:?}"
    );
    let refused = http.call("memberLeave", &leave);
    assert_failed(&refused, "http memberLeave with backlog", "409");
    assert!(refused.message.contains("kb-agent-backlog-group"), "{refused:?}");

    pre_terminate_through_both_variants(&c, &[&exec_master, &exec_slave], &http);

    // A closed port (the broker's address as a parameter overrides kbagent's env, as KubeBlocks'
    // own parameters do): no role, and the reason.
    let closed = format!("127.0.0.1:{}", free_port());
    let reply = exec_master.call("roleProbe", &[("ROCKETMQ_SIDECAR_BROKER", closed.as_str())]);
    assert_failed(&reply, "exec roleProbe, closed port", &closed);

    // A paused broker: no role from either variant, and memberLeave cannot tell.
    c.master.signal("-STOP");
    let reply = until_failed(&exec_master, "roleProbe", "master");
    assert_failed(&reply, "exec roleProbe, paused broker", "exit code: 1");
    let reply = until_failed(&http, "roleProbe", "master");
    assert_failed(&reply, "http roleProbe, paused broker", "503");
    let reply = exec_master.call("memberLeave", &leave);
    assert_failed(&reply, "exec memberLeave, paused broker", "exit code: 2");
    let reply = http.call("memberLeave", &leave);
    assert_failed(&reply, "http memberLeave, paused broker", "503");
    c.master.signal("-CONT");

    // A stopped `serve`: the HTTP variant has nothing to ask, and says so.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http.call("roleProbe", &[]).error.is_empty() {
        assert!(Instant::now() < deadline, "no master again after the pause");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(_serve);
    let reply = http.call("roleProbe", &[]);
    assert_failed(&reply, "http roleProbe, serve stopped", "connection refused");
}

/// KubeBlocks' preTerminate, as the controller calls it before deleting a Component
/// (`hackParameters4Comp`: KB_CLUSTER_COMPONENT_IS_SCALING_IN only for a shard scale-in), on a master
/// whose group `kb-agent-backlog-group` is 6 messages behind. The exec agents are the master's and the
/// slave's pods (a stale master label puts the action on the slave); `http` calls the master's sidecar.
fn pre_terminate_through_both_variants(c: &Cluster, exec: &[&KbAgent], http: &KbAgent) {
    let master = c.master.addr();
    // A whole-cluster deletion (no variable): done at once, the broker untouched. The HTTP body is
    // rendered by kbagent from the parameters; a variable KubeBlocks did not set must not fail it.
    for agent in exec.iter().copied().chain([http]) {
        let reply = agent.call("preTerminate", &[]);
        assert_eq!(reply.error, "", "not a scale-in: {reply:?}\n{}", agent.logs());
    }
    assert_eq!(config_value(&master, "brokerPermission"), "6", "untouched by a cluster deletion");

    // A shard scale-in with a backlog: held, naming the group; the writes stop.
    let scaling_in = [("KB_CLUSTER_COMPONENT_IS_SCALING_IN", "true"), ("MY_CLUSTER_COMP_NAME", "kbtest-broker-x")];
    for agent in exec {
        let refused = agent.call("preTerminate", &scaling_in);
        assert_failed(&refused, "exec preTerminate with backlog", "exit code: 1");
        for part in ["6 unconsumed message(s)", "kb-agent-backlog-group", "writes stopped", "skip-pre-terminate=true"] {
            assert!(refused.message.contains(part), "{part}: {refused:?}");
        }
    }
    assert_eq!(config_value(&master, "brokerPermission"), "4", "the leaving shard takes no new writes");
    let refused = http.call("preTerminate", &scaling_in);
    assert_failed(&refused, "http preTerminate with backlog", "409");
    assert!(refused.message.contains("kb-agent-backlog-group"), "{refused:?}");
    assert!(refused.message.contains("kubectl annotate component kbtest-broker-x"), "{refused:?}");

    // The group consumes the rest; once no write came for the quiet window, both variants let it go.
    let consumed =
        common::client(&["consume", &c.namesrv.addr(), "KbAgentBacklog", "kb-agent-backlog-group", "6", "60"]);
    assert_eq!(consumed, ["consumed 6"], "{consumed:?}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !exec[0].call("preTerminate", &scaling_in).error.is_empty() {
        assert!(Instant::now() < deadline, "{:?}", exec[0].call("preTerminate", &scaling_in));
        std::thread::sleep(Duration::from_secs(1));
    }
    let done = http.call("preTerminate", &scaling_in);
    assert_eq!(done.error, "", "{done:?}");
    assert!(done.output.contains("may be removed"), "{done:?}");
    assert_eq!(config_value(&master, "brokerPermission"), "4");
}

fn reconfigure_12(pod: &Path, old: &str, new: &str, mounted: &str, broker: &str) -> serde_json::Value {
    std::fs::write(pod.join("old.conf"), old).unwrap();
    std::fs::write(pod.join("new.conf"), new).unwrap();
    std::fs::write(pod.join("kb-config/broker.conf"), mounted).unwrap();
    let manifests = rendered("kb-1.2/exec");
    let kb_config = format!("--mount=/kb-config/={}/", pod.join("kb-config").display());
    let out = std::process::Command::new(common::kb::bin("kbhelper"))
        .arg("reconfigure-1.2")
        .arg(format!("--manifests={}", manifests.display()))
        .arg(format!("--old={}", pod.join("old.conf").display()))
        .arg(format!("--new={}", pod.join("new.conf").display()))
        .arg(format!("--mounted={}", pod.join("kb-config/broker.conf").display()))
        .arg("--mount-path=/kb-config/broker.conf")
        .arg(format!("--mount=/sidecar-bin/rocketmq-sidecar={SIDECAR}"))
        .arg(kb_config)
        .env("ROCKETMQ_SIDECAR_BROKER", broker)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn kubeblocks_1_2_calls_reconfigure_with_key_value_and_the_broker_runs_the_new_value() {
    let c = Cluster::shared();
    let broker = c.master.addr();
    let pod = pod_dir("kb12-pod", "");
    let old = "maxMessageSize=4194304\nflushDiskType=ASYNC_FLUSH\nadminBrokerThreadPoolNums=16\n";

    // A live key: syncReload, the action once with KEY VALUE, KB_CONFIG_FILES_UPDATED set; then the
    // broker runs it, read back.
    let new = old.replace("maxMessageSize=4194304", "maxMessageSize=5242881");
    let r = reconfigure_12(&pod, old, &new, &new, &broker);
    assert_eq!(r["policy"], "syncReload", "{r}");
    let calls = r["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{r}");
    let argv: Vec<&str> = calls[0]["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    let file = format!("{}/kb-config/broker.conf", pod.display());
    assert_eq!(argv[1..], ["reconfigure", "--restart-ok", "--file", &file, "maxMessageSize", "5242881"], "{r}");
    assert_eq!(calls[0]["error"], serde_json::Value::Null, "{r}");
    assert!(r["parameters"]["KB_CONFIG_FILES_UPDATED"].as_str().unwrap().starts_with("/kb-config/broker.conf:"), "{r}");
    assert_eq!(config_value(&broker, "maxMessageSize"), "5242881");

    // kbagent first checks that the mounted file already holds the new content.
    let newer = new.replace("5242881", "5242882");
    let r = reconfigure_12(&pod, &new, &newer, &new, &broker);
    assert!(r["calls"][0]["error"].as_str().unwrap().starts_with("preconditionFailed"), "{r}");
    assert_eq!(config_value(&broker, "maxMessageSize"), "5242881", "nothing ran");

    // A hazardous key and a persisted-only one are static: 1.2 restarts the pods, no action call.
    for (key, from, to) in [("flushDiskType", "ASYNC_FLUSH", "SYNC_FLUSH"), ("adminBrokerThreadPoolNums", "16", "17")] {
        let changed = new.replace(&format!("{key}={from}"), &format!("{key}={to}"));
        let r = reconfigure_12(&pod, &new, &changed, &changed, &broker);
        assert_eq!(r["policy"], "restart", "{key}: {r}");
        assert!(r["calls"].as_array().unwrap().is_empty(), "{key}: {r}");
    }
    // Live and static together: a restart too (1.2 takes syncReload only for dynamic-only changes).
    let both = new.replace("5242881", "5242883").replace("ASYNC_FLUSH", "SYNC_FLUSH");
    assert_eq!(reconfigure_12(&pod, &new, &both, &both, &broker)["policy"], "restart");
}

/// By hand (no 1.2 build of KubeBlocks is served to CI): the real kbagent of v1.2.0-alpha.3, built by
/// `scripts/kubeblocks.sh kbagent-1.2 SRC` from a source snapshot, runs the 1.2 exec variant's
/// `configs[].reconfigure` as the 1.2 controller calls it: action `udf-reconfigure-cmpd-<template>`
/// (pkg/controller/component/utils.go, lifecycle/lfa_udf.go), argument tuples `[KEY, VALUE]`, and
/// `KB_CONFIG_FILES_UPDATED`. Run: `cargo test --test kubeblocks -- --ignored`.
#[test]
#[ignore = "needs .cache/kubeblocks/bin/kbagent-1.2, built by hand from a 1.2 source snapshot"]
fn by_hand_the_real_1_2_kbagent_runs_the_1_2_reconfigure_action_with_key_value() {
    let agent_bin = common::root().join(".cache/kubeblocks/bin/kbagent-1.2");
    assert!(agent_bin.exists(), "build it: scripts/kubeblocks.sh kbagent-1.2 SRC");
    let c = Cluster::shared();
    let broker = c.master.addr();
    let pod = pod_dir("kb12-real-pod", "maxMessageSize=5242885\n");
    // The action as 1.2's buildAction4KBAgent makes it from configs[].reconfigure (name, command,
    // timeoutSeconds), with the kubelet's mounts stood in for.
    let manifest = yaml_documents(&rendered("kb-1.2/exec"));
    let cmpd = manifest.iter().find(|d| d["kind"] == "ComponentDefinition").unwrap();
    let reconfigure = &cmpd["spec"]["configs"][0]["reconfigure"];
    let kb_config = format!("{}/", pod.join("kb-config").display());
    let command: Vec<String> = reconfigure["exec"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|w| remap(w.as_str().unwrap(), &[("/sidecar-bin/rocketmq-sidecar", SIDECAR), ("/kb-config/", &kb_config)]))
        .collect();
    let name = "udf-reconfigure-cmpd-rocketmq-broker-config";
    let action = serde_json::json!([{"name": name, "exec": {"command": command},
        "timeoutSeconds": reconfigure["timeoutSeconds"].as_i64()}]);
    let mut env = std::collections::BTreeMap::new();
    env.insert("KB_AGENT_ACTION".to_string(), action.to_string());
    env.insert("ROCKETMQ_SIDECAR_BROKER".to_string(), broker.clone());
    let agent = KbAgent::start_binary(&agent_bin, "127.0.0.1", free_port(), &env);
    let file = pod.join("kb-config/broker.conf");
    let sum = std::process::Command::new("sha256sum").arg(&file).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap().to_string();
    let call = |checksum: &str| {
        let body = serde_json::json!({"action": name,
            "parameters": {"KB_CONFIG_FILES_UPDATED": format!("{}:{checksum}", file.display())},
            "arguments": [["maxMessageSize", "5242885"]]});
        common::kb::post(&agent.addr, "/v1.0/action", &body.to_string())
    };
    let (status, reply) = call(&"0".repeat(64));
    assert_eq!(status, 200);
    assert!(reply.contains("preconditionFailed"), "a file not yet synced: {reply}");
    assert_ne!(config_value(&broker, "maxMessageSize"), "5242885");
    let (_, reply) = call(&sum);
    assert!(!reply.contains("\"error\""), "{reply}\n{}", agent.logs());
    assert_eq!(config_value(&broker, "maxMessageSize"), "5242885");
    eprintln!("kbagent 1.2 reply: {reply}");
}
