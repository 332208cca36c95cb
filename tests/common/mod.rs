//! Test harness: real RocketMQ processes (via scripts/rocketmq.sh) on free loopback ports in temp
//! dirs, and a runner for the sidecar binary with a hard deadline. 4.9.6 unless the test binary
//! picks another release with [`use_version`] before it starts anything.
//!
//! Every JVM is started with `--owner <this test process>`: a watchdog kills it when the test
//! binary exits, even on panic or SIGKILL (a shared cluster lives in a static that is never
//! dropped). Processes owned by a test are also killed when their handle drops.
#![allow(dead_code)]

pub mod kb;
pub mod kube;
pub mod proxy;
pub mod roles;
pub mod tls;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const ACL_ADMIN: (&str, &str) = ("sidecarAdmin", "adminSecret-4f1c9e");
pub const ACL_READER: (&str, &str) = ("sidecarReader", "readerSecret-7b2d0a");

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static VERSION: OnceLock<&'static str> = OnceLock::new();

/// Runs this test binary's processes, clients and jars at RocketMQ `version` (e.g. "5.5.0"); every
/// test of the binary calls it first with the same version.
pub fn use_version(version: &'static str) {
    let set = *VERSION.get_or_init(|| version);
    assert_eq!(set, version, "one RocketMQ version per test binary");
}

/// The RocketMQ release this test binary runs.
pub fn version() -> &'static str {
    VERSION.get().copied().unwrap_or("4.9.6")
}

/// `bash scripts/rocketmq.sh` at this binary's RocketMQ version.
fn rocketmq_sh() -> Command {
    rocketmq_sh_at(version())
}

/// `bash scripts/rocketmq.sh` at RocketMQ `version` (a binary that mixes releases, tests/chaos.rs).
fn rocketmq_sh_at(version: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/rocketmq.sh")).env("ROCKETMQ_VERSION", version);
    cmd
}

/// Downloads the jars once per test binary (a no-op when cached).
pub fn ensure_jars() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let st = rocketmq_sh().arg("fetch").status().expect("run scripts/rocketmq.sh");
        assert!(st.success(), "scripts/rocketmq.sh fetch failed");
    });
}

/// The last `n` lines of a file (empty if it cannot be read): what a failing test shows of a log.
pub fn file_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(n).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// A per-test-process scratch dir; stale ones from dead test processes are removed.
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::temp_dir().join("rocketmq-sidecar-tests");
    static CLEANED: OnceLock<()> = OnceLock::new();
    CLEANED.get_or_init(|| {
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let pid = e.file_name().to_string_lossy().split('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    let dir = base.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn port_free(p: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() && std::net::TcpListener::bind(("0.0.0.0", p)).is_ok()
}

/// Where the test ports come from: below the kernel's ephemeral range (32768–60999 by default),
/// so no outgoing connection of any process can take one between the check and a JVM's bind.
const PORT_BLOCKS_FROM: u16 = 20_000;
const PORT_BLOCK: u16 = 4;

/// A port P with P-2..=P+1 free (a broker also binds P+1 for HA and P-2 for its VIP channel),
/// never handed out twice while this test process lives, by it or by any other test process.
///
/// Test binaries run in two lanes at once (scripts/test.sh). Asking the kernel for a free port
/// (bind to :0) let two processes pick overlapping ranges, and let an outgoing connection take a
/// broker's HA port before the broker bound it (a CI run failed so). So each 4-port block below
/// the ephemeral range is reserved by an exclusive `flock` on a file under the shared scratch
/// base, held until this process exits; the kernel drops the lock when a process dies, so a
/// killed test run frees its blocks, and a port still bound by something it left running is
/// skipped by the bind check.
pub fn free_port() -> u16 {
    static HELD: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("rocketmq-sidecar-tests").join("ports");
    std::fs::create_dir_all(&dir).unwrap();
    let blocks = (ephemeral_ports_start().saturating_sub(PORT_BLOCKS_FROM)) / PORT_BLOCK;
    assert!(blocks > 0, "no test ports below the ephemeral range ({})", ephemeral_ports_start());
    // Start where this process's pid points, so parallel processes rarely contend for one block.
    let first = std::process::id() as u16 % blocks;
    let mut held = HELD.lock().unwrap();
    for i in 0..blocks {
        let low = PORT_BLOCKS_FROM + (first + i) % blocks * PORT_BLOCK;
        let Some(lock) = lock_file(&dir.join(low.to_string())) else { continue };
        if (low..low + PORT_BLOCK).all(port_free) {
            held.push(lock);
            return low + 2;
        }
    }
    panic!("no free block of {PORT_BLOCK} test ports from {PORT_BLOCKS_FROM}: every one is locked or bound");
}

/// The first port the kernel hands out for outgoing connections (32768 if it cannot be read).
fn ephemeral_ports_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// The file, exclusively locked (a lock is per open file, so this process's own earlier locks
/// on it refuse too), or None when another holder has it.
fn lock_file(path: &Path) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    locked.then_some(file)
}

/// Like the JVMs' `--owner` watchdog (scripts/rocketmq.sh): `child` is SIGKILLed once this test
/// process is gone, even by SIGKILL, when no Drop runs. The watchdog shell is started in the
/// background of one that exits at once, so it is never left a zombie of this process.
pub fn kill_when_this_test_process_is_gone(child: &std::process::Child) {
    let watch = format!(
        "(while kill -0 {0} 2>/dev/null && kill -0 {1} 2>/dev/null; do sleep 1; done; kill -9 {1} 2>/dev/null) &",
        std::process::id(),
        child.id()
    );
    let armed = Command::new("sh")
        .arg("-c")
        .arg(watch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(armed.is_ok_and(|s| s.success()), "could not arm the watchdog of pid {}", child.id());
}

/// One JVM started by scripts/rocketmq.sh.
pub struct Proc {
    pub pid: u32,
    pub port: u16,
    pub home: PathBuf,
    pub what: String,
}

impl Proc {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists() && !is_zombie(self.pid)
    }

    /// SIGKILL and wait until it is gone.
    pub fn kill(&self) {
        let _ = rocketmq_sh().args(["stop", &self.pid.to_string(), "--kill"]).status();
    }

    /// Sends `sig` (e.g. "-STOP", "-CONT") to the JVM.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.pid.to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig} {}", self.pid);
    }

    /// SIGTERM (the broker shuts down cleanly) and wait until it is gone.
    pub fn stop(&self) {
        let _ = rocketmq_sh().args(["stop", &self.pid.to_string()]).status();
    }

    fn log_tail(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(self.home.join("logs")).into_iter().flatten().flatten() {
            out += &format!("--- {}\n{}\n", e.path().display(), file_tail(&e.path(), 15));
        }
        out
    }

    /// Waits for the boot line and an open port; panics with the log tail if the JVM dies or is slow.
    pub fn wait_ready(&self) {
        self.wait_ready_by(|| self.answers());
    }

    /// Waits for the boot line and an accepting port (a TLS-only peer cannot be asked in plaintext).
    pub fn wait_booted(&self) {
        self.wait_ready_by(|| std::net::TcpStream::connect(self.addr()).is_ok());
    }

    fn wait_ready_by(&self, answers: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(150);
        loop {
            let booted = std::fs::read_to_string(self.home.join(format!("logs/{}.out", self.log_name())))
                .map(|t| t.contains("boot success"))
                .unwrap_or(false);
            if booted && answers() {
                return;
            }
            assert!(self.alive(), "{} exited during startup:\n{}", self.what, self.log_tail());
            assert!(Instant::now() < deadline, "{} not ready after 150 s:\n{}", self.what, self.log_tail());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A name server answers GET_BROKER_CLUSTER_INFO; a broker answers GET_BROKER_RUNTIME_INFO
    /// (which fails with NoSuchElementException until its stats sampler has run once, ~1 s after
    /// "boot success"). An ACL refusal also counts as answering (ACL 1.0: an AclException
    /// remark; ACL 2.0: NO_PERMISSION).
    fn answers(&self) -> bool {
        let code = if self.log_name() == "namesrv" { 106 } else { 28 };
        match exchange(&self.addr(), code) {
            Some(resp) => resp.code == 0 || resp.code == 16 || resp.remark.is_some_and(|r| r.contains("AclException")),
            None => false,
        }
    }

    fn log_name(&self) -> &str {
        if self.what.contains("name server") {
            "namesrv"
        } else {
            "broker"
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.alive() {
            self.kill();
        }
    }
}

/// One blocking request/response, for readiness checks (no async runtime needed).
pub fn exchange(addr: &str, code: i32) -> Option<rocketmq_sidecar::remoting::Command> {
    use rocketmq_sidecar::remoting::{decode_payload, encode, parse_length, Command as Req};
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = Req::request(code);
    req.opaque = 1;
    s.write_all(&encode(&req).ok()?).ok()?;
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).ok()?;
    let mut payload = vec![0u8; parse_length(prefix, 16 << 20).ok()?];
    s.read_exact(&mut payload).ok()?;
    decode_payload(&payload).ok()
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(") ").next().is_some_and(|r| r.starts_with('Z')))
        .unwrap_or(true)
}

fn start(args: &[&str], home: &Path, port: u16, what: &str) -> Proc {
    start_at(version(), args, home, port, what)
}

fn start_at(version: &str, args: &[&str], home: &Path, port: u16, what: &str) -> Proc {
    ensure_jars();
    if version != self::version() {
        let st = rocketmq_sh_at(version).arg("fetch").status().expect("run scripts/rocketmq.sh");
        assert!(st.success(), "scripts/rocketmq.sh fetch of {version} failed");
    }
    let owner = std::process::id().to_string();
    let out = rocketmq_sh_at(version)
        .args(args)
        .args(["--home", home.to_str().unwrap(), "--port", &port.to_string(), "--owner", &owner])
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/rocketmq.sh");
    assert!(out.status.success(), "starting {what} failed");
    let pid = String::from_utf8_lossy(&out.stdout).trim().parse().expect("script prints the java PID");
    Proc { pid, port, home: home.to_path_buf(), what: what.to_string() }
}

pub fn start_namesrv(dir: &Path) -> Proc {
    start_namesrv_with(dir, free_port(), &[])
}

/// A name server on `port` with extra `key=value` settings (e.g. the 5.x embedded controller).
pub fn start_namesrv_with(dir: &Path, port: u16, settings: &[&str]) -> Proc {
    start_namesrv_at(version(), &dir.join("namesrv"), port, settings, &[])
}

/// A name server of RocketMQ `version` in `home` (whatever this binary's own version is), with
/// extra JVM options (RocketMQ's TLS settings are system properties).
pub fn start_namesrv_at(version: &str, home: &Path, port: u16, settings: &[&str], jvm: &[&str]) -> Proc {
    let mut args = vec!["start-namesrv"];
    for kv in settings {
        args.extend(["--set", kv]);
    }
    for opt in jvm {
        args.extend(["--jvm", opt]);
    }
    start_at(version, &args, home, port, "name server")
}

/// Options for a broker; `home` is reused on restart so the store and broker.conf survive.
pub struct BrokerSpec<'a> {
    pub home: PathBuf,
    pub port: u16,
    pub namesrv: &'a str,
    pub name: &'a str,
    pub id: u32,
    pub role: &'a str,
    pub acl: bool,
}

impl<'a> BrokerSpec<'a> {
    /// A master (brokerId 0, ASYNC_MASTER) on a free port.
    pub fn master(home: PathBuf, namesrv: &'a str, name: &'a str, acl: bool) -> BrokerSpec<'a> {
        BrokerSpec { home, port: free_port(), namesrv, name, id: 0, role: "ASYNC_MASTER", acl }
    }
}

pub fn start_broker(spec: &BrokerSpec) -> Proc {
    start_broker_with(spec, &[])
}

/// A broker with extra `key=value` settings in its broker.conf (written on first start only).
pub fn start_broker_with(spec: &BrokerSpec, settings: &[&str]) -> Proc {
    start_broker_at(version(), spec, settings, &[])
}

/// A broker of RocketMQ `version` (whatever this binary's own version is), with extra JVM options
/// (RocketMQ's TLS settings are system properties).
pub fn start_broker_at(version: &str, spec: &BrokerSpec, settings: &[&str], jvm: &[&str]) -> Proc {
    let id = spec.id.to_string();
    let mut args =
        vec!["start-broker", "--namesrv", spec.namesrv, "--name", spec.name, "--id", &id, "--role", spec.role];
    if spec.acl {
        args.push("--acl");
    }
    for kv in settings {
        args.extend(["--set", kv]);
    }
    for opt in jvm {
        args.extend(["--jvm", opt]);
    }
    start_at(version, &args, &spec.home, spec.port, &format!("broker {} id {}", spec.name, spec.id))
}

/// Name server + master + slave of shard `broker-a`, + an ACL-enabled broker `broker-acl`.
pub struct Cluster {
    pub namesrv: Proc,
    pub master: Proc,
    pub slave: Proc,
    pub acl: Proc,
}

impl Cluster {
    pub fn start(name: &str) -> Cluster {
        let dir = scratch(name);
        let namesrv = start_namesrv(&dir);
        namesrv.wait_ready();
        let ns = namesrv.addr();
        let broker = |sub: &str, name: &str, id, role, acl| {
            start_broker(&BrokerSpec { home: dir.join(sub), port: free_port(), namesrv: &ns, name, id, role, acl })
        };
        let master = broker("master", "broker-a", 0, "ASYNC_MASTER", false);
        let slave = broker("slave", "broker-a", 1, "SLAVE", false);
        let acl = broker("acl", "broker-acl", 0, "ASYNC_MASTER", true);
        for p in [&master, &slave, &acl] {
            p.wait_ready();
        }
        Cluster { namesrv, master, slave, acl }
    }

    /// One cluster per test binary, started on first use.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| Cluster::start("shared"))
    }
}

/// Output of one run of the sidecar binary.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `rocketmq-sidecar ARGS` with `env`, killing it if it outlives `limit` (a hang fails the test).
pub fn sidecar(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rocketmq-sidecar"));
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // A clean environment for the variables the CLI reads, so the developer's shell can't leak in:
    // every ROCKETMQ_SIDECAR_*, every other name read in its place, and the addon's variables that
    // defaults are built from.
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("ROCKETMQ_SIDECAR_")) {
        cmd.env_remove(var);
    }
    for (_, other, _) in rocketmq_sidecar::cli::ENV_FALLBACKS {
        cmd.env_remove(other);
    }
    for var in [
        "MY_CLUSTER_COMP_NAME",
        "ENABLE_ACL",
        "ROCKETMQ_USER",
        "ROCKETMQ_PASSWORD",
        "ALL_NAMESRV_FQDN",
        "NAMESRV_PORT",
        "BROKER_PORT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn rocketmq-sidecar");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rocketmq-sidecar {args:?} hung for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    Run { code: status.code(), stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap(), elapsed }
}

/// `rocketmq-sidecar serve` as a child process on a free port; killed on drop.
pub struct Serve {
    child: std::process::Child,
    pub port: u16,
    log: PathBuf,
}

impl Serve {
    /// Starts `serve` with `args` (plus --listen) and waits until it answers /live.
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_on(&format!("127.0.0.1:{}", free_port()), args)
    }

    /// `serve` listening on `listen` (e.g. the port a manifest names).
    pub fn start_on(listen: &str, args: &[&str]) -> Serve {
        let s = Serve::spawn_on(listen, args);
        s.wait_for("/live", Duration::from_secs(10), |code, _| code == 200);
        s
    }

    /// `serve` on `listen` without waiting for it (e.g. over HTTPS, which `wait_for` cannot ask).
    pub fn spawn_on(listen: &str, args: &[&str]) -> Serve {
        let port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
        let log = scratch(&format!("serve-{port}")).join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_rocketmq-sidecar"))
            .arg("serve")
            .args(args)
            .args(["--listen", listen])
            .env("ROCKETMQ_SIDECAR_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn serve");
        kill_when_this_test_process_is_gone(&child);
        Serve { child, port, log }
    }

    pub fn get(&self, path: &str) -> (u16, String, Duration) {
        http_get(self.port, path)
    }

    /// Polls `path` until `ok(status, body)` holds; panics with the log after `limit`.
    pub fn wait_for(&self, path: &str, limit: Duration, ok: impl Fn(u16, &str) -> bool) -> (u16, String) {
        let deadline = Instant::now() + limit;
        loop {
            let (code, body, _) = self.get(path);
            if ok(code, &body) {
                return (code, body);
            }
            assert!(Instant::now() < deadline, "{path} still {code} {body:?} after {limit:?}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `serve` process id (for its RSS and open files).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns the exit code and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.code(), start.elapsed());
            }
            assert!(start.elapsed() < limit, "serve did not stop within {limit:?} after SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/status").1).expect("status JSON")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET (no client crate needed): (status, body, elapsed); status 0 if unreachable.
pub fn http_get(port: u16, path: &str) -> (u16, String, Duration) {
    http_get_within(port, path, Duration::from_secs(5))
}

/// [`http_get`] that gives up reading after `limit` (status 0 then).
pub fn http_get_within(port: u16, path: &str, limit: Duration) -> (u16, String, Duration) {
    use std::io::Write;
    let start = Instant::now();
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), start.elapsed());
    };
    s.set_read_timeout(Some(limit)).unwrap();
    let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let elapsed = start.elapsed();
    let code = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body, elapsed)
}

/// Runs the test producer/consumer (scripts/java/TestClient.java); returns its result lines
/// (`ok ...`, `error ...`, `consumed N`), client log noise filtered out.
pub fn client(args: &[&str]) -> Vec<String> {
    let out = rocketmq_sh()
        .arg("client")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/rocketmq.sh client");
    assert!(out.status.success(), "client {args:?} failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("error ") || l.starts_with("consumed "))
        .map(str::to_string)
        .collect()
}

/// The official mqadmin (at this binary's RocketMQ version) with `args`; its standard output.
pub fn mqadmin(args: &[&str]) -> String {
    let out = rocketmq_sh()
        .arg("mqadmin")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run scripts/rocketmq.sh mqadmin");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates `topic` with `queues` read/write queues on the broker at `addr` (UPDATE_AND_CREATE_TOPIC).
pub fn create_topic(addr: &str, topic: &str, queues: u32) {
    set_topic_queues(addr, topic, queues, queues);
}

/// Creates or updates `topic` with `read` read queues and `write` write queues (UPDATE_AND_CREATE_TOPIC).
pub fn set_topic_queues(addr: &str, topic: &str, read: u32, write: u32) {
    use rocketmq_sidecar::remoting::{Client, ClientOptions, Command as Req};
    let (read, write) = (read.to_string(), write.to_string());
    let req = Req::request(17)
        .with_ext("topic", topic)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", read.as_str())
        .with_ext("writeQueueNums", write.as_str())
        .with_ext("perm", "6")
        .with_ext("topicFilterType", "SINGLE_TAG")
        .with_ext("topicSysFlag", "0")
        .with_ext("order", "false");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(Client::new(addr, ClientOptions::default()).invoke_ok(req)).expect("create topic");
}

/// Creates `topic` on each broker in `brokers` and waits until the name server at `namesrv` routes
/// it on all of them, so that a client started next finds the whole route.
pub fn routed_topic(namesrv: &str, brokers: &[impl AsRef<str>], topic: &str, queues: u32) {
    for addr in brokers {
        create_topic(addr.as_ref(), topic, queues);
    }
    wait_route_on(namesrv, topic, brokers.len());
}

/// Waits until the name server at `namesrv` routes `topic` on at least `brokers` brokers (a broker
/// registers a new topic with the name servers a moment after creating it). A client started before
/// that finds no route, or a partial one, and asks again only at its next route refresh, 30 s later.
fn wait_route_on(namesrv: &str, topic: &str, brokers: usize) {
    use rocketmq_sidecar::admin::NamesrvAdmin;
    use rocketmq_sidecar::remoting::ClientOptions;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ns = NamesrvAdmin::new(namesrv, ClientOptions::default()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let routed: std::collections::BTreeSet<String> =
            rt.block_on(ns.route(topic)).unwrap_or_default().into_iter().map(|q| q.broker_name).collect();
        if routed.len() >= brokers {
            return;
        }
        assert!(Instant::now() < deadline, "{namesrv} routed {topic} on {routed:?} only");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Creates subscription group `group` on the broker at `addr` (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
pub fn create_group(addr: &str, group: &str) {
    use rocketmq_sidecar::remoting::{Client, ClientOptions, Command as Req};
    let body = format!(r#"{{"groupName":"{group}","consumeEnable":true,"retryQueueNums":1,"retryMaxTimes":5}}"#);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(Client::new(addr, ClientOptions::default()).invoke_ok(Req::request(200).with_body(body.into_bytes())))
        .expect("create group");
}

/// A long-running test client (scripts/java/TestClient.java `push` / `produce-loop`): its result
/// lines are collected as they come, each with the time it was read. It ends when dropped (its
/// standard input closes) or when the test process dies.
pub struct Helper {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::Arc<Mutex<Vec<(std::time::SystemTime, String)>>>,
    /// Set once the client's standard output is closed (its JVM has ended): no more lines come.
    ended: std::sync::Arc<std::sync::atomic::AtomicBool>,
    what: String,
    /// The client's standard error (Java's exceptions), shown when a line it should print is late.
    stderr: PathBuf,
    /// The Java client's own log (its pulls, rebalances and retries), shown with it.
    log_root: PathBuf,
}

const HELPER_PREFIXES: [&str; 10] =
    ["started", "assigned", "msg ", "ok ", "error ", "holding ", "later ", "consumed ", "cfg ", "cfgerr "];

impl Helper {
    pub fn start(args: &[&str]) -> Helper {
        use std::io::BufRead;
        ensure_jars();
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = DIR.get_or_init(|| scratch("helpers"));
        let (stderr, log_root) = (dir.join(format!("{n}.err")), dir.join(format!("{n}.log")));
        let mut child = rocketmq_sh()
            .env("ROCKETMQ_CLIENT_LOG_ROOT", &log_root)
            .arg("client")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
            .spawn()
            .expect("run scripts/rocketmq.sh client");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (sink, ended) = (lines.clone(), std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));
        let end = ended.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if HELPER_PREFIXES.iter().any(|p| line.starts_with(p)) {
                    sink.lock().unwrap().push((std::time::SystemTime::now(), line));
                }
            }
            end.store(true, std::sync::atomic::Ordering::Release);
        });
        let h = Helper { child, stdin, lines, ended, what: format!("{args:?}"), stderr, log_root };
        h.wait_line("started", Duration::from_secs(60));
        h
    }

    /// The lines so far that start with `prefix`.
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        self.lines.lock().unwrap().iter().filter(|(_, l)| l.starts_with(prefix)).map(|(_, l)| l.clone()).collect()
    }

    /// When the newest line starting with `prefix` was read.
    pub fn last_time(&self, prefix: &str) -> Option<std::time::SystemTime> {
        self.lines.lock().unwrap().iter().filter(|(_, l)| l.starts_with(prefix)).map(|(t, _)| *t).max()
    }

    /// Waits for a line starting with `prefix`; returns it.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> String {
        self.wait_count(prefix, 1, limit).pop().unwrap()
    }

    /// Waits until `n` lines start with `prefix`; returns them. Fails at once when the client has
    /// ended short of them (a failed client ends its JVM: scripts/java/TestClient.java).
    pub fn wait_count(&self, prefix: &str, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            // Read before the lines: once set, every line the client printed is in.
            let ended = self.ended.load(std::sync::atomic::Ordering::Acquire);
            let got = self.lines(prefix);
            if got.len() >= n {
                return got;
            }
            if ended {
                panic!(
                    "{}: ended with {} line(s) {prefix:?} of {n}: {got:?}\n{}",
                    self.what,
                    got.len(),
                    self.diagnosis()
                );
            }
            if Instant::now() >= deadline {
                panic!("{}: {n} line(s) {prefix:?} not within {limit:?}, got {got:?}\n{}", self.what, self.diagnosis());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ends the client (closes its standard input) and waits for it.
    pub fn stop(&mut self) {
        self.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the client said on standard error and in its own log, and where its JVM's threads are
    /// (jstack of the java process under scripts/rocketmq.sh): why a line it should have printed
    /// did not come.
    fn diagnosis(&self) -> String {
        let mut out = format!("--- client stderr (last lines)\n{}\n", file_tail(&self.stderr, 30));
        out += &format!("--- client log (last lines)\n{}\n", file_tail(&self.log_root.join("rocketmq_client.log"), 40));
        let children = format!("/proc/{0}/task/{0}/children", self.child.id());
        for pid in std::fs::read_to_string(children).unwrap_or_default().split_whitespace() {
            let stack = Command::new("timeout").args(["10", "jstack", pid]).output();
            let text = stack.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
            let threads: Vec<&str> =
                text.split("\n\n").filter(|t| t.contains("\"main\"") || t.contains("Startup")).collect();
            out += &format!("--- jstack {pid} (main)\n{}\n", threads.join("\n\n"));
        }
        out
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Six messages on `topic` (created on `broker` only, with `queues` queues), sent through the name
/// servers, that `group` has not consumed (its offsets committed at 0).
pub fn unconsumed(broker: &str, namesrv: &str, topic: &str, group: &str, queues: u32) {
    routed_topic(namesrv, &[broker], topic, queues);
    let sent = client(&["produce", namesrv, topic, "6"]);
    assert_eq!(sent.iter().filter(|l| l.starts_with("ok ")).count(), 6, "{sent:?}");
    create_group(broker, group);
    for q in 0..queues {
        commit_offset(broker, group, topic, q, 0);
    }
}

/// Where each of the first `queues` queues of `topic` ends now, one GET_MAX_OFFSET each.
pub fn queue_ends(addr: &str, topic: &str, queues: u32) -> Vec<i64> {
    use rocketmq_sidecar::{admin::BrokerAdmin, remoting::ClientOptions};
    let admin = BrokerAdmin::new(addr, ClientOptions::default());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    (0..queues).map(|q| rt.block_on(admin.max_offset(topic, q)).unwrap()).collect()
}

/// UPDATE_CONSUMER_OFFSET (15): `group` has consumed `topic` queue `queue` up to `offset`.
pub fn commit_offset(broker: &str, group: &str, topic: &str, queue: u32, offset: i64) {
    use rocketmq_sidecar::remoting::{Client, ClientOptions, Command as Req};
    let req = Req::request(15)
        .with_ext("consumerGroup", group)
        .with_ext("topic", topic)
        .with_ext("queueId", queue.to_string())
        .with_ext("commitOffset", offset.to_string());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(Client::new(broker, ClientOptions::default()).invoke_ok(req)).expect("commit offset");
}

/// Deletes subscription group `group` on the broker at `addr` (DELETE_SUBSCRIPTIONGROUP), so a
/// test's finished group does not linger as "offline" for the next.
pub fn delete_group(addr: &str, group: &str) {
    use rocketmq_sidecar::remoting::{Client, ClientOptions, Command as Req};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let req = Req::request(207).with_ext("groupName", group).with_ext("removeOffset", "true");
    rt.block_on(Client::new(addr, ClientOptions::default()).invoke_ok(req)).expect("delete group");
}
