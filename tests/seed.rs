//! Shard seeding against real 4.9.6 brokers: shard A's sidecar serves its topics and groups in the
//! broker's own file format; `seed` writes them into a fresh shard B's store; B starts with them.
mod common;

use std::time::Duration;

use common::{create_group, create_topic, scratch, sidecar, start_broker, start_namesrv, BrokerSpec, Serve, ACL_ADMIN};
use rocketmq_sidecar::admin::BrokerAdmin;
use rocketmq_sidecar::remoting::ClientOptions;

const T: Duration = Duration::from_secs(20);

#[test]
fn a_new_shard_starts_with_the_topics_and_groups_seeded_from_a_peer_sidecar() {
    let dir = scratch("seed");
    let namesrv = start_namesrv(&dir);
    namesrv.wait_ready();
    let ns = namesrv.addr();
    let spec = |sub: &str, name, acl| BrokerSpec::master(dir.join(sub), &ns, name, acl);
    let a = start_broker(&spec("a", "broker-a1", false));
    let acl = start_broker(&spec("acl", "broker-acl1", true));
    a.wait_ready();
    acl.wait_ready();
    create_topic(&a.addr(), "SeedTopic8", 8);
    create_topic(&a.addr(), "SeedTopic2", 2);
    create_group(&a.addr(), "SeedGroup1");
    create_group(&a.addr(), "SeedGroup2");

    // A's sidecar, also on the addon's agent port layout (a second listener).
    let agent_port = common::free_port();
    let agent = format!("127.0.0.1:{agent_port}");
    let a_addr = a.addr();
    let serve = Serve::start(&["--broker", &a_addr, "--agent-listen", &agent]);
    let (code, body, _) = common::http_get(agent_port, "/topicInfo");
    assert_eq!(code, 200, "{body}");
    let topics: serde_json::Value = serde_json::from_str(&body).unwrap();
    let table = topics["topicConfigTable"].as_object().unwrap();
    assert!(topics["dataVersion"].is_object());
    assert_eq!(table["SeedTopic8"]["readQueueNums"], 8);
    assert!(
        !table.contains_key("TBW102")
            && !table.contains_key("broker-a1")
            && !table.contains_key("DefaultCluster_REPLY_TOPIC"),
        "system and per-shard topics left out"
    );
    let (_, all, _) = serve.get("/topicInfo?all=true");
    assert!(all.contains("\"TBW102\""), "?all=true keeps them");
    let (code, groups, _) = serve.get("/subscriptionGroupInfo");
    assert_eq!(code, 200);
    assert!(groups.contains("\"SeedGroup1\"") && !groups.contains("\"TOOLS_CONSUMER\""), "{groups}");

    // Seed B's store: the first URL is dead, the second is A's sidecar.
    let b_store = dir.join("b/store");
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let from = format!("{dead},http://{agent}");
    let run =
        sidecar(&["seed", "--from", &from, "--data-dir", b_store.to_str().unwrap(), "--peer-timeout", "2s"], &[], T);
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    assert!(run.stdout.contains("wrote") && run.stdout.contains("topics.json"), "{}", run.stdout);
    let again = sidecar(&["seed", "--from", &from, "--data-dir", b_store.to_str().unwrap()], &[], T);
    assert_eq!(again.code, Some(0));
    assert_eq!(again.stdout.matches("kept").count(), 2, "never overwritten: {}", again.stdout);

    let b = start_broker(&spec("b", "broker-b1", false));
    b.wait_ready();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let b_admin = BrokerAdmin::new(b.addr(), ClientOptions::default());
    let b_topics = rt.block_on(b_admin.topic_configs()).unwrap();
    assert_eq!(b_topics["SeedTopic8"].read_queue_nums, 8);
    assert_eq!(b_topics["SeedTopic2"].write_queue_nums, 2);
    assert!(!b_topics.contains_key("broker-a1"), "A's own topic was not copied");
    let b_groups = rt.block_on(b_admin.groups()).unwrap();
    assert!(b_groups.contains_key("SeedGroup1") && b_groups.contains_key("SeedGroup2"));

    // A peer whose broker cannot be asked answers 503 with a reason; seed then fails, writes nothing.
    let dead_broker = format!("127.0.0.1:{}", common::free_port());
    let broken = Serve::start(&["--broker", &dead_broker, "--timeout", "500ms"]);
    let (code, body, _) = broken.get("/topicInfo");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("cannot read topics.json"), "{body}");
    let empty = dir.join("c/store");
    let from = format!("http://127.0.0.1:{}", broken.port);
    let run = sidecar(&["seed", "--from", &from, "--data-dir", empty.to_str().unwrap(), "--timeout", "3s"], &[], T);
    assert_eq!(run.code, Some(1), "{}", run.all_output());
    assert!(
        run.stderr.contains("no peer gave a valid topics.json") && run.stderr.contains("HTTP 503"),
        "{}",
        run.stderr
    );
    let left: Vec<_> = std::fs::read_dir(empty.join("config")).unwrap().collect();
    assert!(left.is_empty(), "no partial file: {left:?}");

    // ACL broker: the sidecar signs with its own key; callers need none; the secret never shows.
    let acl_addr = acl.addr();
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rocketmq-sidecar"))
        .args(["serve", "--broker", &acl_addr, "--listen", &listen])
        .env("ROCKETMQ_SIDECAR_ACCESS_KEY", ACL_ADMIN.0)
        .env("ROCKETMQ_SIDECAR_SECRET_KEY", ACL_ADMIN.1)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (code, body) = loop {
        let (code, body, _) = common::http_get(port, "/topicInfo");
        if code == 200 || std::time::Instant::now() > deadline {
            break (code, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains(ACL_ADMIN.1) && !String::from_utf8_lossy(&out.stderr).contains(ACL_ADMIN.1));
}
