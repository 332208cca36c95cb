//! Benchmark helper for benches/reload.sh: changes every parameter the reloader may send, on a
//! real broker, back and forth, and reports median times as JSON:
//! - `cliMedianUs`: one `rocketmq-sidecar reconfigure --file F` process (read config, one update,
//!   read back and verify), like one mqadmin call;
//! - `libMedianUs`: the same in-process (plan + apply + verify), the reloader's cost inside `serve`.
//!
//! Usage: reload_bench BROKER RUNS SIDECAR_BIN WORK_DIR
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rocketmq_sidecar::admin::BrokerAdmin;
use rocketmq_sidecar::params::{alternative, CATALOG};
use rocketmq_sidecar::reload::{apply, Desired, Plan};
use rocketmq_sidecar::remoting::ClientOptions;

fn median(mut v: Vec<Duration>) -> u128 {
    v.sort();
    v[v.len() / 2].as_micros()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (broker, runs, bin, work) = (&args[1], args[2].parse::<usize>().unwrap(), &args[3], &args[4]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let admin = BrokerAdmin::new(broker.as_str(), ClientOptions::default());
    let live = rt.block_on(admin.config()).unwrap();
    // Two value sets differing in every sendable parameter: the live one and an alternative.
    let sendable: Vec<_> = CATALOG.iter().filter(|p| p.sendable()).collect();
    let a: BTreeMap<String, String> =
        sendable.iter().map(|p| (p.name.to_string(), live.get(p.name).cloned().unwrap_or_default())).collect();
    let b: BTreeMap<String, String> =
        sendable.iter().map(|p| (p.name.to_string(), alternative(p, &a[p.name]))).collect();
    let write = |name: &str, m: &BTreeMap<String, String>| {
        let path = format!("{work}/{name}.conf");
        std::fs::write(&path, m.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>()).unwrap();
        path
    };
    let files = [write("a", &a), write("b", &b)];
    let sets = [&a, &b];

    let mut cli = Vec::new();
    for i in 0..runs {
        let start = Instant::now();
        let st = std::process::Command::new(bin)
            .args(["reconfigure", "--broker", broker, "--restart-ok", "--file", &files[(i + 1) % 2]])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        cli.push(start.elapsed());
        assert!(st.success(), "reconfigure failed");
    }
    let mut lib = Vec::new();
    let mut sent = 0;
    for i in 0..runs {
        let desired = Desired::from_pairs(sets[(i + runs + 1) % 2].clone()).unwrap();
        let start = Instant::now();
        let live = rt.block_on(admin.config()).unwrap();
        let plan = Plan::compute(&desired, &live);
        rt.block_on(apply(&admin, &plan)).unwrap();
        lib.push(start.elapsed());
        sent = plan.send.len();
    }
    println!(
        "{{\"keys\": {sent}, \"runs\": {runs}, \"cliMedianUs\": {}, \"libMedianUs\": {}}}",
        median(cli),
        median(lib)
    );
    // Leave the broker as it was.
    let desired = Desired::from_pairs(a).unwrap();
    let plan = Plan::compute(&desired, &rt.block_on(admin.config()).unwrap());
    rt.block_on(apply(&admin, &plan)).unwrap();
}
