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
        write_lines(dir, "restores.jsonl", &self.restores, |r| json!({"at": r.0, "shard": r.1}));
    }

    /// Reads what [`History::write`] wrote.
    pub fn load(dir: &Path) -> History {
        let h = History::default();
        for v in read_lines(dir, "answers.jsonl") {
            let what = v["what"].as_str().unwrap_or("").to_string();
            let body = match what.as_str() {
                "/status" => Body::Status(v["body"].clone()),
                "/metrics" | "agent /metrics" => {
                    Body::Metrics(serde_json::from_value(v["body"].clone()).unwrap_or_default())
                }
                _ => Body::Text(v["body"].as_str().unwrap_or("").to_string()),
            };
            h.answer(Answer {
                serve: number(&v, "serve") as usize,
                what,
                sent: number(&v, "sent"),
                got: number(&v, "got"),
                code: number(&v, "code") as u16,
                body,
            });
        }
        for v in read_lines(dir, "processes.jsonl") {
            h.procs.lock().unwrap().push(ProcEvent {
                at: number(&v, "at"),
                key: v["key"].as_str().unwrap_or("").to_string(),
                up: v["up"] == true,
            });
        }
        for v in read_lines(dir, "versions.jsonl") {
            let kind = match v["kind"].as_str().unwrap_or("") {
                "valid" => "valid",
                "invalid" => "invalid",
                _ => "hazardous",
            };
            let expect = serde_json::from_value(v["expect"].clone()).unwrap_or(None);
            h.version(Version { at: number(&v, "at"), serve: number(&v, "serve") as usize, expect, kind });
        }
        for v in read_lines(dir, "faults.jsonl") {
            // Fault kinds are the schedule's own names; an unknown one (an older recording) keeps its text.
            let text = v["kind"].as_str().unwrap_or("");
            let kind = crate::faults::kind_named(text);
            h.faults.lock().unwrap().push(Fault {
                start: number(&v, "start"),
                end: number(&v, "end"),
                kind,
                target: v["target"].as_str().unwrap_or("").into(),
            });
        }
        for v in read_lines(dir, "footprints.jsonl") {
            let n = |k: &str| number(&v, k);
            h.footprint(Footprint { at: n("at"), serve: n("serve") as usize, rss_kib: n("rssKiB"), fds: n("fds") });
        }
        *h.restores.lock().unwrap() = if dir.join("restores.jsonl").exists() {
            let shard = |v: &serde_json::Value| v["shard"].as_str().unwrap_or("").to_string();
            read_lines(dir, "restores.jsonl").iter().map(|v| (number(v, "at"), shard(v))).collect()
        } else {
            // Recorded before restores.jsonl: each restore began as its drain answered, and a
            // drain's answer is filed under its shard's first broker.
            let first_of =
                |serve: usize| ["broker-a", "?", "broker-d", "?", "?", "broker-c"].get(serve).copied().unwrap_or("?");
            let answers = h.answers.lock().unwrap();
            answers
                .iter()
                .filter(|a| a.what == "cli scale-in drain")
                .map(|a| (a.got, first_of(a.serve).to_string()))
                .collect()
        };
        h
    }
}

/// A file of a recorded campaign, whole (it must be there).
pub fn read_text(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn read_lines(dir: &Path, name: &str) -> Vec<serde_json::Value> {
    read_text(dir, name).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// A number field of a JSON line (0 when missing).
fn number(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// One JSON line per record.
fn write_lines<T>(dir: &Path, name: &str, records: &Mutex<Vec<T>>, line: impl Fn(&T) -> serde_json::Value) {
    let text: String = records.lock().unwrap().iter().map(|r| format!("{}\n", line(r))).collect();
    std::fs::write(dir.join(name), text).unwrap();
}
