//! The campaign's history: every answer a sidecar gave and, beside it, what the harness did
//! (process states, file versions, faults) and how much each `serve` held (RSS, open files).
//! Times are Unix milliseconds, the clock the Java clients print too.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// One answer from a sidecar: an HTTP endpoint or a CLI run.
#[derive(Debug, Clone)]
pub struct Answer {
    pub serve: usize,
    /// The path asked (`/role`, `agent /metrics`, `cli scale-in check`, ...).
    pub what: String,
    pub sent: u64,
    pub got: u64,
    /// The HTTP status (0: no answer within the limit); a CLI exit maps to 200 / 409 / 503.
    pub code: u16,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    Text(String),
    Status(serde_json::Value),
    /// The counters and gauges the checker reads, by series (name and labels as served).
    Metrics(BTreeMap<String, f64>),
}

impl Body {
    pub fn text(&self) -> &str {
        match self {
            Body::Text(t) => t,
            _ => "",
        }
    }
}

/// A process went down (SIGKILL, SIGSTOP) or came back (restart begun, SIGCONT about to be sent).
#[derive(Debug, Clone)]
pub struct ProcEvent {
    pub at: u64,
    pub key: String,
    pub up: bool,
}

/// A config file version written for `serve`: the values of the checked keys the reloader must
/// put on the broker whole, or None when the file is invalid (nothing may change).
#[derive(Debug, Clone)]
pub struct Version {
    pub at: u64,
    pub serve: usize,
    pub expect: Option<BTreeMap<String, String>>,
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub start: u64,
    pub end: u64,
    pub kind: &'static str,
    pub target: String,
}

#[derive(Debug, Clone)]
pub struct Footprint {
    pub at: u64,
    pub serve: usize,
    pub rss_kib: u64,
    pub fds: u64,
}

#[derive(Default)]
pub struct History {
    pub answers: Mutex<Vec<Answer>>,
    pub procs: Mutex<Vec<ProcEvent>>,
    pub versions: Mutex<Vec<Version>>,
    pub faults: Mutex<Vec<Fault>>,
    pub footprints: Mutex<Vec<Footprint>>,
    /// When the harness began giving a drained shard its write permission back: (time, shard).
    pub restores: Mutex<Vec<(u64, String)>>,
}

impl History {
    pub fn answer(&self, a: Answer) {
        self.answers.lock().unwrap().push(a);
    }

    pub fn proc_state(&self, key: &str, up: bool) {
        self.procs.lock().unwrap().push(ProcEvent { at: now_ms(), key: key.to_string(), up });
    }

    pub fn version(&self, v: Version) {
        self.versions.lock().unwrap().push(v);
    }

    pub fn fault(&self, start: u64, kind: &'static str, target: String) {
        self.faults.lock().unwrap().push(Fault { start, end: now_ms(), kind, target });
    }

    pub fn footprint(&self, f: Footprint) {
        self.footprints.lock().unwrap().push(f);
    }

    /// Writes the history as JSON lines (one file per record kind), for a replay to compare with.
    pub fn write(&self, dir: &Path) {
        use serde_json::json;
        write_lines(dir, "answers.jsonl", &self.answers, |a| {
            let body = match &a.body {
                Body::Text(t) => json!(t),
                Body::Status(v) => v.clone(),
                Body::Metrics(m) => json!(m),
            };
            json!({"serve": a.serve, "what": a.what, "sent": a.sent, "got": a.got, "code": a.code, "body": body})
        });
        write_lines(dir, "processes.jsonl", &self.procs, |p| json!({"at": p.at, "key": p.key, "up": p.up}));
        write_lines(
            dir,
            "versions.jsonl",
            &self.versions,
            |v| json!({"at": v.at, "serve": v.serve, "kind": v.kind, "expect": v.expect}),
        );
        write_lines(
            dir,
            "faults.jsonl",
            &self.faults,
            |f| json!({"start": f.start, "end": f.end, "kind": f.kind, "target": f.target}),
        );
        write_lines(
            dir,
            "footprints.jsonl",
            &self.footprints,
            |f| json!({"at": f.at, "serve": f.serve, "rssKiB": f.rss_kib, "fds": f.fds}),
        );
    }
}

/// One JSON line per record.
fn write_lines<T>(dir: &Path, name: &str, records: &Mutex<Vec<T>>, line: impl Fn(&T) -> serde_json::Value) {
    let text: String = records.lock().unwrap().iter().map(|r| format!("{}\n", line(r))).collect();
    std::fs::write(dir.join(name), text).unwrap();
}
