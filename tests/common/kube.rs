//! A real KubeBlocks v1.0.2 control plane on loopback: etcd, kube-apiserver and the KubeBlocks
//! manager, built from Go modules by scripts/kubeblocks.sh (../shared reference:
//! kubeblocks-controlplane.md has the versions and flags). No kubelet, scheduler or
//! kube-controller-manager: the test stands in for the kubelet only. Everything is killed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::kb::bin;
use super::{file_tail, free_port, kill_when_this_test_process_is_gone, root, scratch};

pub struct ControlPlane {
    children: Vec<Child>,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

fn spawn(dir: &Path, name: &str, cmd: &mut Command) -> Child {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    kill_when_this_test_process_is_gone(&child);
    child
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl ControlPlane {
    pub fn start() -> ControlPlane {
        // A directory of its own: the tests of one binary each run their control plane at once.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = scratch(&format!("control-plane-{}", STARTED.fetch_add(1, Ordering::Relaxed)));
        let mut cp = ControlPlane { children: Vec::new(), kubeconfig: dir.join("kubeconfig"), dir: dir.clone() };
        let etcd_port = free_port();
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer = format!("http://127.0.0.1:{}", free_port());
        cp.children.push(spawn(
            &dir,
            "etcd",
            Command::new(bin("etcd")).args([
                "--data-dir",
                dir.join("etcd").to_str().unwrap(),
                "--listen-client-urls",
                &etcd_url,
                "--advertise-client-urls",
                &etcd_url,
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
                "--initial-cluster",
                &format!("default={peer}"),
                "--listen-metrics-urls",
                &format!("http://127.0.0.1:{}", free_port()),
            ]),
        ));
        let p = |f: &str| dir.join(f).display().to_string();
        openssl(
            &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
                .into_iter()
                .chain(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", &p("tls.key"), "-out", &p("tls.crt")])
                .collect::<Vec<_>>(),
        );
        openssl(&["genrsa", "-out", &p("sa.key"), "2048"]);
        std::fs::write(dir.join("tokens.csv"), "sidecar-test-token,admin,admin,system:masters\n").unwrap();
        let api_port = free_port();
        cp.children.push(spawn(
            &dir,
            "kube-apiserver",
            Command::new(bin("kube-apiserver")).args([
                &format!("--etcd-servers={etcd_url}"),
                &format!("--secure-port={api_port}"),
                "--bind-address=127.0.0.1",
                &format!("--tls-cert-file={}", p("tls.crt")),
                &format!("--tls-private-key-file={}", p("tls.key")),
                &format!("--token-auth-file={}", p("tokens.csv")),
                "--authorization-mode=AlwaysAllow",
                &format!("--service-account-key-file={}", p("sa.key")),
                &format!("--service-account-signing-key-file={}", p("sa.key")),
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--endpoint-reconciler-type=none",
                // No kube-controller-manager would ever lift the PVC protection finalizer.
                "--disable-admission-plugins=StorageObjectInUseProtection",
            ]),
        ));
        std::fs::write(
            &cp.kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: https://127.0.0.1:{api_port}\n    insecure-skip-tls-verify: true\nusers:\n- name: admin\n  user:\n    token: sidecar-test-token\ncontexts:\n- name: local\n  context: {{cluster: local, user: admin}}\ncurrent-context: local\n"
            ),
        )
        .unwrap();
        cp.wait("the API server", Duration::from_secs(60), |cp| cp.kubectl_ok(&["get", "--raw", "/readyz"]));
        cp.install_crds();
        cp.kubectl(&["create", "namespace", "kb-system"]);
        let metrics = format!("--metrics-bind-address=127.0.0.1:{}", free_port());
        let health = format!("--health-probe-bind-address=127.0.0.1:{}", free_port());
        let kubeconfig = format!("--kubeconfig={}", cp.kubeconfig.display());
        cp.children.push(spawn(
            &dir,
            "manager",
            Command::new(bin("manager"))
                .args([kubeconfig.as_str(), "--leader-elect=false", &metrics, &health])
                .env("ENABLE_WEBHOOKS", "false")
                .env("CM_NAMESPACE", "kb-system")
                .env("KUBECONFIG", &cp.kubeconfig),
        ));
        cp
    }

    /// KubeBlocks' CRDs from the module (config/crd/bases and the snapshot CRDs), server-side.
    fn install_crds(&self) {
        let out = Command::new("bash").arg(root().join("scripts/kubeblocks.sh")).arg("crds").output().unwrap();
        for crd_dir in String::from_utf8_lossy(&out.stdout).lines() {
            self.kubectl(&["apply", "--server-side", "-f", crd_dir]);
        }
        self.kubectl(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    }

    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig.display())).args(args);
        cmd
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> bool {
        self.kubectl_cmd(args).output().is_ok_and(|o| o.status.success())
    }

    /// `kubectl ARGS`, which must succeed: its stdout.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            self.manager_tail()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl get ARGS -o json`.
    pub fn get(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["get"];
        a.extend(args);
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&a)).unwrap()
    }

    pub fn manager_tail(&self) -> String {
        format!("\n--- manager log tail:\n{}", file_tail(&self.dir.join("manager.err"), 20))
    }

    /// Polls `ok` until it holds; panics with the manager's log after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, ok: impl Fn(&ControlPlane) -> bool) {
        let deadline = Instant::now() + limit;
        while !ok(self) {
            assert!(Instant::now() < deadline, "{what}: not within {limit:?}{}", self.manager_tail());
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
