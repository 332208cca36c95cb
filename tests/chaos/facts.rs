//! What the checker needs to know about a campaign besides the history: the brokers and the
//! `serve` beside each, each `serve`'s log, and the ground truth as read (the admin client's
//! readings, the clients' lines). Taken from the running world, written next to the history
//! (`world.json`, `truth.txt`, `clients.txt`, `serve-logs/`), and read back by
//! `CHAOS_RECHECK=DIR`, which runs the checker again on a recorded campaign.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::history::read_text;
use crate::world::{Group, World};

pub struct BrokerFact {
    pub key: String,
    pub addr: String,
    pub group: Group,
}

pub struct ServeFact {
    pub broker: usize,
    pub group: Group,
    pub started: u64,
    pub log: String,
}

pub struct Facts {
    pub brokers: Vec<BrokerFact>,
    pub serves: Vec<ServeFact>,
    /// Each broker's checked values before any file was applied (its first reading).
    pub baselines: Vec<BTreeMap<String, String>>,
    /// The admin client's lines (`cfg ...`, `cfgerr ...`).
    pub truth: Vec<String>,
    /// Per client, in `World::start_clients` order, its `ok` / `error` / `msg` lines.
    pub clients: Vec<Vec<String>>,
}

impl Facts {
    pub fn of(world: &World) -> Facts {
        let brokers = world
            .brokers
            .iter()
            .map(|b| BrokerFact { key: b.key.clone(), addr: b.addr(), group: b.group().unwrap() })
            .collect();
        let serves = world
            .serves
            .iter()
            .map(|s| ServeFact { broker: s.broker, group: s.group, started: s.started, log: s.serve.log() })
            .collect();
        let clients = world
            .clients
            .lock()
            .unwrap()
            .iter()
            .map(|c| ["ok ", "error ", "msg "].iter().flat_map(|p| c.lines(p)).collect())
            .collect();
        Facts { brokers, serves, baselines: world.baselines.clone(), truth: world.truth.lines("cfg"), clients }
    }

    pub fn write(&self, dir: &Path) {
        let brokers: Vec<_> =
            self.brokers.iter().map(|b| json!({"key": b.key, "addr": b.addr, "group": b.group.name()})).collect();
        let serves: Vec<_> = self
            .serves
            .iter()
            .map(|s| json!({"broker": s.broker, "group": s.group.name(), "started": s.started}))
            .collect();
        let world = json!({"brokers": brokers, "serves": serves, "baselines": self.baselines});
        std::fs::write(dir.join("world.json"), serde_json::to_string_pretty(&world).unwrap()).unwrap();
        std::fs::write(dir.join("truth.txt"), self.truth.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
        let mut text = String::new();
        for (i, lines) in self.clients.iter().enumerate() {
            text += &lines.iter().map(|l| format!("{i} {l}\n")).collect::<String>();
        }
        std::fs::write(dir.join("clients.txt"), text).unwrap();
        let logs = dir.join("serve-logs");
        std::fs::create_dir_all(&logs).unwrap();
        for (i, s) in self.serves.iter().enumerate() {
            std::fs::write(logs.join(format!("serve-{i}.log")), &s.log).unwrap();
        }
    }

    /// Reads what [`Facts::write`] wrote.
    pub fn load(dir: &Path) -> Facts {
        let read = |name: &str| read_text(dir, name);
        let world: serde_json::Value = serde_json::from_str(&read("world.json")).expect("world.json");
        let brokers = world["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| BrokerFact {
                key: b["key"].as_str().unwrap().into(),
                addr: b["addr"].as_str().unwrap().into(),
                group: Group::named(b["group"].as_str().unwrap()),
            })
            .collect();
        let serves = world["serves"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, s)| ServeFact {
                broker: s["broker"].as_u64().unwrap() as usize,
                group: Group::named(s["group"].as_str().unwrap()),
                started: s["started"].as_u64().unwrap(),
                log: std::fs::read_to_string(dir.join(format!("serve-logs/serve-{i}.log"))).unwrap_or_default(),
            })
            .collect();
        let baselines = serde_json::from_value(world["baselines"].clone()).expect("baselines");
        let truth = read("truth.txt").lines().map(str::to_string).collect();
        let mut clients: Vec<Vec<String>> = Vec::new();
        for line in read("clients.txt").lines() {
            let (i, rest) = line.split_once(' ').unwrap();
            let i: usize = i.parse().unwrap();
            if clients.len() <= i {
                clients.resize(i + 1, Vec::new());
            }
            clients[i].push(rest.to_string());
        }
        Facts { brokers, serves, baselines, truth, clients }
    }
}
