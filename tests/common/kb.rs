//! KubeBlocks pieces for the tests, all built from KubeBlocks' own source by scripts/kubeblocks.sh:
//! the real kbagent (v1.0.2), driven over its HTTP API exactly as the controller drives it, and
//! kbhelper (KubeBlocks' own name matching and lifecycle-action conversion).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;

use super::{free_port, kill_when_this_test_process_is_gone, root, scratch};

pub const SIDECAR: &str = env!("CARGO_BIN_EXE_rocketmq-sidecar");

/// scripts/kubeblocks.sh build, once per test binary (seconds when cached).
pub fn ensure_built() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let st = Command::new("bash").arg(root().join("scripts/kubeblocks.sh")).arg("build").status().unwrap();
        assert!(st.success(), "scripts/kubeblocks.sh build failed");
    });
}

pub fn bin(name: &str) -> PathBuf {
    ensure_built();
    root().join(".cache/kubeblocks/bin").join(name)
}

/// `kubectl kustomize deploy/kubeblocks/DIR` in a file: what `kubectl apply -k` sends.
/// Rendered once per test process: tests run on threads, and a second rendering into the same
/// scratch directory (which `scratch` empties first) would pull the file from under a reader.
pub fn rendered(dir: &str) -> PathBuf {
    static DONE: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut done = DONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(file) = done.get(dir) {
        return file.clone();
    }
    let out =
        Command::new("kubectl").arg("kustomize").arg(root().join("deploy/kubeblocks").join(dir)).output().unwrap();
    assert!(out.status.success(), "kubectl kustomize {dir}: {}", String::from_utf8_lossy(&out.stderr));
    let file = scratch(&format!("kustomize-{}", dir.replace('/', "-"))).join("all.yaml");
    std::fs::write(&file, &out.stdout).unwrap();
    done.insert(dir.to_string(), file.clone());
    file
}

/// `key`'s live value on the broker at `broker` (GET_BROKER_CONFIG, through `config get`).
pub fn config_value(broker: &str, key: &str) -> String {
    let run = super::sidecar(&["config", "get", "--broker", broker], &[], Duration::from_secs(10));
    let prefix = format!("{key}=");
    run.stdout.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_string()
}

/// `kbhelper ARGS`: (success, stdout, stderr).
pub fn kbhelper(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin("kbhelper")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// kbagent's KB_AGENT_ACTION / KB_AGENT_PROBE for component `comp` of the ComponentDefinition in
/// `manifest`, by KubeBlocks' own conversion; `mounts` (FROM, TO) stand in for the kubelet's volume
/// mounts: a path the pod would see at FROM lives at TO here.
pub fn kbagent_env(manifest: &Path, comp: &str, mounts: &[(&str, &str)]) -> BTreeMap<String, String> {
    let (ok, out, err) = kbhelper(&["kbagent-env", manifest.to_str().unwrap(), comp]);
    assert!(ok, "kbagent-env: {err}");
    let env: BTreeMap<String, String> = serde_json::from_str(&out).unwrap();
    env.into_iter().map(|(k, v)| (k, remap(&v, mounts))).collect()
}

/// `text` with every path under a pod mount point FROM moved to where it lives here, TO (the
/// kubelet's volume mounts, stood in for).
pub fn remap(text: &str, mounts: &[(&str, &str)]) -> String {
    mounts.iter().fold(text.to_string(), |t, (from, to)| t.replace(from, to))
}

/// The YAML documents of a file (empty ones left out).
pub fn yaml_documents(path: &Path) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// A real kbagent process on ADDRESS:port; killed on drop.
pub struct KbAgent {
    child: std::process::Child,
    pub addr: String,
    pub log: PathBuf,
}

impl KbAgent {
    /// Starts kbagent as the controller's pod spec does (`--port`, `--streaming-port`), bound to
    /// `address` (each fake pod has its own loopback address), with `env`.
    pub fn start(address: &str, port: u16, env: &BTreeMap<String, String>) -> KbAgent {
        KbAgent::start_binary(&bin("kbagent"), address, port, env)
    }

    /// The same with another kbagent build (e.g. 1.2's, built by hand).
    pub fn start_binary(program: &Path, address: &str, port: u16, env: &BTreeMap<String, String>) -> KbAgent {
        let log = scratch(&format!("kbagent-{address}-{port}")).join("kbagent.log");
        let mut cmd = Command::new(program);
        cmd.args(["--address", address, "--port", &port.to_string(), "--streaming-port", &free_port().to_string()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
        let child = cmd.spawn().expect("spawn kbagent");
        kill_when_this_test_process_is_gone(&child);
        let agent = KbAgent { child, addr: format!("{address}:{port}"), log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&agent.addr).is_err() {
            assert!(Instant::now() < deadline, "kbagent did not listen on {}: {}", agent.addr, agent.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
        agent
    }

    pub fn logs(&self) -> String {
        let a = std::fs::read_to_string(&self.log).unwrap_or_default();
        let b = std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default();
        format!("{a}{b}")
    }

    /// `POST /v1.0/action` as the controller sends it (pkg/controller/lifecycle/kbagent.go):
    /// `{"action", "parameters"}`; kbagent answers 200 with the outcome in JSON.
    pub fn call(&self, action: &str, parameters: &[(&str, &str)]) -> ActionReply {
        let params: serde_json::Map<String, serde_json::Value> =
            parameters.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        let body = serde_json::json!({"action": action, "parameters": params}).to_string();
        let (status, reply) = post(&self.addr, "/v1.0/action", &body);
        assert_eq!(status, 200, "kbagent answered {status}: {reply}");
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply}"));
        let output = v["output"]
            .as_str()
            .map(|b| String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap())
            .unwrap_or_default();
        ActionReply {
            error: v["error"].as_str().unwrap_or_default().into(),
            message: v["message"].as_str().unwrap_or_default().into(),
            output,
        }
    }
}

impl Drop for KbAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// kbagent's reply: `error` is empty on success (then `output` is the action's stdout or body).
#[derive(Debug)]
pub struct ActionReply {
    pub error: String,
    pub message: String,
    pub output: String,
}

/// A minimal HTTP/1.1 POST of a JSON body: (status, body).
pub fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    // kbagent may answer chunked; the JSON object is the part between the outer braces.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => body[a..=b].to_string(),
        _ => body,
    };
    (status, body)
}
