//! What one request costs the broker, for benches/footprint.sh: sends COUNT requests of one kind to
//! a real broker on one connection, one after another, and prints the broker JVM's CPU time
//! (utime + stime from /proc/PID/stat) they took, per request, minus what the broker burnt idle
//! over a window as long (measured just before).
//!
//! Usage: request_cost BROKER_ADDR BROKER_PID KIND COUNT
//! KIND: config | runtime | topics | groups | offsets | cluster (GET_BROKER_CLUSTER_INFO, for a name server)
use std::time::{Duration, Instant};

use rocketmq_sidecar::remoting::codes::request;
use rocketmq_sidecar::remoting::{Client, ClientOptions, Command};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, pid, kind, count] = args.as_slice() else {
        panic!("usage: request_cost BROKER_ADDR BROKER_PID KIND COUNT");
    };
    let code = match kind.as_str() {
        "config" => request::GET_BROKER_CONFIG,
        "runtime" => request::GET_BROKER_RUNTIME_INFO,
        "topics" => request::GET_ALL_TOPIC_CONFIG,
        "groups" => request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
        "offsets" => request::GET_ALL_CONSUMER_OFFSET,
        "cluster" => request::GET_BROKER_CLUSTER_INFO,
        other => panic!("unknown kind {other}"),
    };
    let count: u32 = count.parse().expect("COUNT");
    let client =
        Client::new(addr.as_str(), ClientOptions { request_timeout: Duration::from_secs(10), ..Default::default() });
    // Connected and warm; for topics, the table's size (each topic's config names it once).
    let connecting = Instant::now();
    let first = client.invoke_ok(Command::request(code)).await.expect("first request");
    let first_ms = connecting.elapsed().as_secs_f64() * 1000.0;
    let items = String::from_utf8_lossy(&first.body).matches("\"topicName\"").count();
    let started = Instant::now();
    let before = cpu_ms(pid);
    for _ in 0..count {
        client.invoke_ok(Command::request(code)).await.expect("request");
    }
    let (busy, took) = (cpu_ms(pid) - before, started.elapsed());
    // The same broker, idle over as long a window: what it burns anyway.
    let before = cpu_ms(pid);
    tokio::time::sleep(took).await;
    let idle = cpu_ms(pid) - before;
    let per_request = (busy - idle) / f64::from(count);
    println!(
        "{{\"kind\": \"{kind}\", \"count\": {count}, \"topics\": {items}, \"firstOnNewConnectionMs\": {first_ms:.3}, \"wallMsPerRequest\": {:.3}, \"brokerCpuMsPerRequest\": {per_request:.3}}}",
        took.as_secs_f64() * 1000.0 / f64::from(count)
    );
}

/// The process's CPU time so far (utime + stime), in ms.
fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the broker's /proc stat");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 1000.0 / USER_HZ
}

/// Clock ticks per second in /proc/PID/stat: Linux's USER_HZ, 100 on every architecture the
/// sidecar ships for.
const USER_HZ: f64 = 100.0;
