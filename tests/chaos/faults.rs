//! The fault schedule, drawn from the seed: a new fault about every 3 s, each on its own thread so
//! they overlap, at most one at a time per topology, per name-server side and on the proxy (each
//! group keeps a quorum to recover with). Config churn and CLI checks overlap everything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::proxy::Mode;
use crate::common::sidecar;
use crate::history::{now_ms, Answer, Body, History, Version};
use crate::load::role_of;
use crate::rng::Rng;
use crate::world::{self, Group, World};

/// Kinds of faults and how often each is drawn.
const KINDS: [(&str, u64); 11] = [
    ("kill-restart broker", 3),
    ("pause broker", 3),
    ("master loss (kill)", 2),
    ("master loss (pause)", 2),
    ("kill-restart name server", 1),
    ("pause name server", 1),
    ("proxy", 2),
    ("config churn", 4),
    ("cli scale-in check", 1),
    ("rapid config rewrites", 1),
    ("scale-in drain", 1),
];

/// The schedule's name for `text` ("unknown" for one it does not draw).
pub fn kind_named(text: &str) -> &'static str {
    KINDS.iter().map(|k| k.0).find(|k| *k == text).unwrap_or("unknown")
}

/// Runs faults until `deadline`; returns what went wrong in the harness itself (a broker that would
/// not restart), which fails the run apart from the checker's violations.
pub fn run(world: &Arc<World>, history: &Arc<History>, seed: u64, deadline: Instant) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let busy: Arc<Mutex<HashMap<&'static str, bool>>> = Arc::default();
    let mut running: Vec<(String, JoinHandle<()>)> = Vec::new();
    let weights: Vec<u64> = KINDS.iter().map(|k| k.1).collect();
    let mut n = 0u64;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(rng.between(500, 5_500)));
        let kind = KINDS[rng.weighted(&weights)].0;
        let fault_seed = rng.next();
        let Some(lock) = claim(&busy, kind, world, fault_seed) else { continue };
        n += 1;
        let (w, h, b) = (world.clone(), history.clone(), busy.clone());
        let handle = std::thread::spawn(move || {
            inject(&w, &h, kind, fault_seed);
            if let Some(l) = lock {
                b.lock().unwrap().insert(l, false);
            }
        });
        running.push((format!("fault {n} ({kind})"), handle));
    }
    running.into_iter().filter_map(|(what, h)| h.join().err().map(|e| format!("{what}: {}", panic_text(&e)))).collect()
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

/// The lock a fault of `kind` holds while it runs (None: it needs none); None overall when that
/// lock is taken, so the fault is skipped.
fn claim(
    busy: &Mutex<HashMap<&'static str, bool>>,
    kind: &str,
    world: &World,
    seed: u64,
) -> Option<Option<&'static str>> {
    let lock = match kind {
        "kill-restart broker" | "pause broker" => Some(broker_group(world, seed).name()),
        "master loss (kill)" | "master loss (pause)" => Some(master_loss_group(seed).name()),
        "kill-restart name server" | "pause name server" => Some(name_server_lock(seed)),
        "proxy" => Some("proxy"),
        "scale-in drain" => Some("drain"),
        _ => None,
    };
    let Some(l) = lock else { return Some(None) };
    let mut b = busy.lock().unwrap();
    if b.get(l).copied().unwrap_or(false) {
        return None;
    }
    b.insert(l, true);
    Some(Some(l))
}

/// The group a broker fault with this seed lands in (the same draw `inject` makes).
fn broker_group(world: &World, seed: u64) -> Group {
    let mut rng = Rng::new(seed);
    world.brokers[rng.between(0, world.brokers.len() as u64 - 1) as usize].group().unwrap()
}

fn inject(world: &World, history: &History, kind: &'static str, seed: u64) {
    let mut rng = Rng::new(seed);
    let start = now_ms();
    let target = match kind {
        "kill-restart broker" | "pause broker" => {
            // The first draw, as `broker_group` made it for the lock.
            let i = rng.between(0, world.brokers.len() as u64 - 1) as usize;
            outage(history, &world.brokers[i], kind == "pause broker", &mut rng);
            world.brokers[i].key.clone()
        }
        "master loss (kill)" | "master loss (pause)" => {
            let group = master_loss_group(seed);
            match truth_master(world, group) {
                Some(i) => {
                    outage(history, &world.brokers[i], kind.ends_with("(pause)"), &mut rng);
                    world.brokers[i].key.clone()
                }
                None => format!("{}: no master seen, nothing done", group.name()),
            }
        }
        "kill-restart name server" | "pause name server" => {
            let i = if name_server_lock(seed) == "ns5" { 2 } else { rng.between(0, 1) as usize };
            outage(history, &world.names[i], kind == "pause name server", &mut rng);
            world.names[i].key.clone()
        }
        "proxy" => proxy_fault(world, &mut rng),
        "config churn" => churn(world, history, &mut rng, 1),
        "rapid config rewrites" => churn(world, history, &mut rng, 5),
        "cli scale-in check" => cli_check(world, history, &mut rng),
        "scale-in drain" => drain(world, history, &mut rng),
        other => unreachable!("fault kind {other}"),
    };
    history.fault(start, kind, target);
}

fn master_loss_group(seed: u64) -> Group {
    if seed % 2 == 0 {
        Group::Dledger
    } else {
        Group::Controller
    }
}

/// The 5.x name server (it hosts the controller) or one of the 4.9.6 pair.
fn name_server_lock(seed: u64) -> &'static str {
    if seed % 3 == 2 {
        "ns5"
    } else {
        "ns-pair"
    }
}

/// SIGSTOP for a while then SIGCONT, or SIGKILL for a while then a restart (waiting until it
/// answers again).
fn outage(history: &History, node: &world::Node, pause: bool, rng: &mut Rng) {
    let hold = Duration::from_millis(rng.between(1_000, 12_000));
    if pause {
        node.signal("-STOP");
        history.proc_state(&node.key, false);
        std::thread::sleep(hold);
        history.proc_state(&node.key, true);
        node.signal("-CONT");
    } else {
        node.kill();
        history.proc_state(&node.key, false);
        std::thread::sleep(hold);
        history.proc_state(&node.key, true);
        node.launch();
        node.wait_ready();
    }
}

fn proxy_fault(world: &World, rng: &mut Rng) -> String {
    let hold = Duration::from_millis(rng.between(1_000, 10_000));
    let what = match rng.between(0, 2) {
        0 => {
            world.proxy.set(Mode::BlackHole);
            "black hole"
        }
        1 => {
            let d = Duration::from_millis(rng.between(200, 3_000));
            world.proxy.set(Mode::Delay(d));
            "delay"
        }
        _ => {
            world.proxy.silence_open_connections();
            "silent connection"
        }
    };
    std::thread::sleep(hold);
    world.proxy.set(Mode::Pass);
    format!("{what} for {} ms", hold.as_millis())
}

/// Writes `count` versions of one serve's file, `count` > 1 within about a second.
fn churn(world: &World, history: &History, rng: &mut Rng, count: usize) -> String {
    let i = rng.between(0, world.serves.len() as u64 - 1) as usize;
    let s = &world.serves[i];
    let mut kinds = Vec::new();
    for _ in 0..count {
        let values = world::valid_values(rng.next());
        let (kind, text, expect) = match rng.between(0, 9) {
            0..=5 => ("valid", world::render(&values), Some(values)),
            6 | 7 => {
                // One bad value rejects the whole file: nothing of it may reach the broker.
                let mut text = world::render(&values);
                text = text.replace(&format!("maxMessageSize={}", values["maxMessageSize"]), "maxMessageSize=4MB");
                ("invalid", text, None)
            }
            _ => {
                // A hazardous key beside live ones: it is never sent, the live ones are.
                ("hazardous", format!("{}flushDiskType=SYNC_FLUSH\n", world::render(&values)), Some(values))
            }
        };
        world::write_config(&s.file, s.swapped, &text);
        history.version(Version { at: now_ms(), serve: i, expect, kind });
        kinds.push(kind);
        if count > 1 {
            std::thread::sleep(Duration::from_millis(rng.between(20, 250)));
        }
    }
    format!("serve {i}: {}", kinds.join(","))
}

/// `scale-in check` from the CLI against one broker, recorded as an answer (0 → 200, 1 → 409,
/// 2 → 503).
fn cli_check(world: &World, history: &History, rng: &mut Rng) -> String {
    let i = rng.between(0, world.brokers.len() as u64 - 1) as usize;
    let addr = world.brokers[i].addr();
    let ns = world.name_server_of(i);
    let sent = now_ms();
    let run = sidecar(&["scale-in", "check", "--broker", &addr, "--namesrv", &ns], &[], Duration::from_secs(60));
    let code = exit_as_http(run.code);
    let body = Body::Text(run.all_output().chars().take(300).collect());
    history.answer(Answer { serve: i, what: "cli scale-in check".into(), sent, got: now_ms(), code, body });
    format!("{} ({code})", world.brokers[i].key)
}

fn exit_as_http(code: Option<i32>) -> u16 {
    match code {
        Some(0) => 200,
        Some(1) => 409,
        Some(2) => 503,
        _ => 500,
    }
}

/// `scale-in drain` of one shard (found through its name servers) with a drain timeout of 20-100 s:
/// mostly it times out and gives the write permission back; when it says drained, the shard stays
/// read-only, as it would before KubeBlocks deletes it. Then the harness makes every broker of the
/// shard writable again (`reconfigure brokerPermission 6`, the operator's way back), retrying
/// until each has taken it, so the campaign goes on with producers on every shard.
fn drain(world: &World, history: &History, rng: &mut Rng) -> String {
    let group = *rng.pick(&[Group::Pair, Group::Dledger, Group::Controller]);
    let members: Vec<usize> = (0..world.brokers.len()).filter(|i| world.brokers[*i].group() == Some(group)).collect();
    let first = members[0];
    let ns = world.name_server_of(first);
    let limit = format!("{}s", rng.between(20, 100));
    let sent = now_ms();
    let args = ["scale-in", "drain", "--shard", group.shard(), "--namesrv", &ns, "--drain-timeout", &limit];
    let run = sidecar(&args, &[], Duration::from_secs(300));
    let code = exit_as_http(run.code);
    let tail: String = run.all_output().lines().rev().take(3).collect::<Vec<_>>().join(" | ");
    let body = Body::Text(tail.chars().take(400).collect());
    history.answer(Answer { serve: first, what: "cli scale-in drain".into(), sent, got: now_ms(), code, body });
    history.restores.lock().unwrap().push((now_ms(), group.shard().to_string()));
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut pending = members.clone();
    while !pending.is_empty() && Instant::now() < deadline {
        pending.retain(|i| {
            let addr = world.brokers[*i].addr();
            let run =
                sidecar(&["reconfigure", "--broker", &addr, "brokerPermission", "6"], &[], Duration::from_secs(60));
            run.code != Some(0)
        });
        std::thread::sleep(Duration::from_secs(1));
    }
    let left: Vec<&str> = pending.iter().map(|i| world.brokers[*i].key.as_str()).collect();
    let unrestored = if left.is_empty() { String::new() } else { format!("; still read-only: {left:?}") };
    format!("{} ({code}, drain timeout {limit}){unrestored}", group.shard())
}

/// Which broker of `group` the admin client saw as master last (within the last 3 s).
pub fn truth_master(world: &World, group: Group) -> Option<usize> {
    let now = now_ms();
    let lines = world.truth.lines("cfg ");
    (0..world.brokers.len()).filter(|i| world.brokers[*i].group() == Some(group)).find(|i| {
        let addr = world.brokers[*i].addr();
        lines.iter().rev().find(|l| world::field(l, 2) == addr).is_some_and(|l| {
            let at: u64 = world::field(l, 1).parse().unwrap_or(0);
            at + 3_000 >= now && role_of(world::field(l, 3)) == "master"
        })
    })
}
