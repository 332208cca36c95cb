//! Benchmark setup and timing for benches/guard.sh, on a real broker:
//! `setup`: topic BenchGuard8 with 8 queues, GROUPS subscription groups, each with committed
//! offset 0 on every queue (so once messages are produced, every group is behind).
//! `setup-topics`: TOPICS more topics (`BenchTopic00000`…, one queue each) with one group,
//! BenchTopicsGroup (in the group table), at committed offset 0 on each (the cost curve in topics, apart from groups).
//! `time`: runs `rocketmq-sidecar scale-in check --json` RUNS times; prints the median and the
//! verdict's row count as JSON.
//!
//! Usage: guard_bench setup BROKER GROUPS [FROM] (FROM: groups below it exist already) |
//! guard_bench setup-topics BROKER TOPICS [FROM] |
//! guard_bench time BROKER RUNS SIDECAR_BIN
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocketmq_sidecar::remoting::{Client, ClientOptions, Command};

const TOPIC: &str = "BenchGuard8";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args[1].as_str() {
        "setup" => setup(&args[2], args[3].parse().unwrap(), args.get(4).map_or(0, |f| f.parse().unwrap())).await,
        "setup-topics" => {
            setup_topics(&args[2], args[3].parse().unwrap(), args.get(4).map_or(0, |f| f.parse().unwrap())).await
        }
        "time" => time(&args[2], args[3].parse().unwrap(), &args[4]),
        other => panic!("unknown mode {other}"),
    }
}

fn client(broker: &str) -> Arc<Client> {
    Arc::new(Client::new(broker, ClientOptions { request_timeout: Duration::from_secs(10), ..Default::default() }))
}

/// UPDATE_AND_CREATE_TOPIC (17).
async fn create_topic(client: &Client, topic: &str, queues: u32) {
    let queues = queues.to_string();
    let create = Command::request(17)
        .with_ext("topic", topic)
        .with_ext("defaultTopic", "TBW102")
        .with_ext("readQueueNums", queues.as_str())
        .with_ext("writeQueueNums", queues.as_str())
        .with_ext("perm", "6")
        .with_ext("topicFilterType", "SINGLE_TAG")
        .with_ext("topicSysFlag", "0")
        .with_ext("order", "false");
    client.invoke_ok(create).await.expect("create topic");
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200): body = SubscriptionGroupConfig JSON.
async fn create_group(client: &Client, group: &str) {
    let body = format!(
        r#"{{"groupName":"{group}","consumeEnable":true,"consumeBroadcastEnable":true,"retryQueueNums":1,"retryMaxTimes":16,"brokerId":0,"whichBrokerWhenConsumeSlowly":1,"notifyConsumerIdsChangedEnable":true,"consumeFromMinEnable":true}}"#
    );
    client.invoke_ok(Command::request(200).with_body(body.into_bytes())).await.expect("create group");
}

/// UPDATE_CONSUMER_OFFSET (15): `group` at offset 0 on queue `queue` of `topic`.
async fn commit_zero(client: &Client, group: &str, topic: &str, queue: u32) {
    let commit = Command::request(15)
        .with_ext("consumerGroup", group)
        .with_ext("topic", topic)
        .with_ext("queueId", queue.to_string())
        .with_ext("commitOffset", "0");
    client.invoke_ok(commit).await.expect("commit offset");
}

/// Runs `job(i)` for every i in `range`, 32 at a time.
async fn each<F, Fut>(range: std::ops::Range<usize>, job: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for i in range {
        tasks.spawn(job(i));
        if tasks.len() >= 32 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
}

async fn setup(broker: &str, groups: usize, from: usize) {
    let client = client(broker);
    create_topic(&client, TOPIC, 8).await;
    each(from..groups, |g| {
        let client = client.clone();
        async move {
            let group = format!("BenchGroup{g:04}");
            create_group(&client, &group).await;
            for q in 0..8 {
                commit_zero(&client, &group, TOPIC, q).await;
            }
        }
    })
    .await;
    println!("created {TOPIC} (8 queues) and {groups} groups with offsets");
}

async fn setup_topics(broker: &str, topics: usize, from: usize) {
    let client = client(broker);
    // In the group table, as a group whose consumers have sent a heartbeat is.
    create_group(&client, "BenchTopicsGroup").await;
    each(from..topics, |t| {
        let client = client.clone();
        async move {
            let topic = format!("BenchTopic{t:05}");
            create_topic(&client, &topic, 1).await;
            commit_zero(&client, "BenchTopicsGroup", &topic, 0).await;
        }
    })
    .await;
    println!("created {topics} topics (1 queue each) consumed by BenchTopicsGroup");
}

fn time(broker: &str, runs: usize, bin: &str) {
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let out = std::process::Command::new(bin)
            .args(["scale-in", "check", "--broker", broker, "--json", "--ignore-delayed"])
            .output()
            .unwrap();
        times.push(start.elapsed());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check JSON");
        rows = v["rows"].as_array().map_or(0, |r| r.len());
    }
    times.sort();
    println!("{{\"medianUs\": {}, \"rows\": {rows}}}", times[runs / 2].as_micros());
}
