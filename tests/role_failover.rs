//! Role probe under failure, on its own real 4.9.6 cluster (this test kills and restarts brokers):
//! a killed master stops being "healthy master" within 3 intervals while /live stays 200; it comes
//! back when restarted; a slave restarted as the shard's master is reported as master.
mod common;

use std::time::{Duration, Instant};

use common::{scratch, sidecar, start_broker, start_namesrv, BrokerSpec, Serve};

const INTERVAL_MS: u64 = 500;

#[test]
fn master_killed_restarted_and_slave_promoted() {
    let dir = scratch("failover");
    let namesrv = start_namesrv(&dir);
    namesrv.wait_ready();
    let ns = namesrv.addr();
    let spec = |sub: &str, port, id, role| BrokerSpec {
        home: dir.join(sub),
        port,
        namesrv: &ns,
        name: "broker-f",
        id,
        role,
        acl: false,
    };
    let (mp, sp) = (common::free_port(), common::free_port());
    let master = start_broker(&spec("master", mp, 0, "ASYNC_MASTER"));
    let slave = start_broker(&spec("slave", sp, 1, "SLAVE"));
    master.wait_ready();
    slave.wait_ready();

    let interval = format!("{INTERVAL_MS}ms");
    let (m_addr, s_addr) = (master.addr(), slave.addr());
    let serve_next_to =
        |addr: &str| Serve::start(&["--broker", addr, "--namesrv", &ns, "--interval", &interval, "--timeout", "1s"]);
    let on_master = serve_next_to(&m_addr);
    let on_slave = serve_next_to(&s_addr);
    on_master.wait_for("/primary", Duration::from_secs(10), |c, _| c == 200);
    on_slave.wait_for("/replica", Duration::from_secs(10), |c, _| c == 200);

    // 1. Kill the master: within 3 intervals (+ one check's timeout) /primary and /health say 503.
    master.kill();
    let killed = Instant::now();
    on_master.wait_for("/primary", Duration::from_millis(3 * INTERVAL_MS + 1000), |c, _| c == 503);
    on_master.wait_for("/health", Duration::from_millis(500), |c, _| c == 503);
    let took = killed.elapsed();
    assert!(took <= Duration::from_millis(3 * INTERVAL_MS + 1000), "took {took:?}");
    let (code, body, elapsed) = on_master.get("/role");
    assert_eq!(code, 503);
    assert!(body.starts_with("unknown: "), "{body}");
    assert!(elapsed < Duration::from_secs(1), "from memory, not a check (--timeout 1s): {elapsed:?}");
    assert_eq!(on_master.get("/live").0, 200, "a broker outage never fails liveness");
    assert_eq!(on_master.get("/ready").0, 200, "readiness stays latched");
    let run = sidecar(&["role", "--broker", &m_addr, "--timeout", "1s"], &[], Duration::from_secs(10));
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("cannot determine the role") && run.stderr.contains("cannot connect"),
        "{}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_millis(1200));

    // 2. Start it again (same store, same port): healthy master again.
    let master = start_broker(&spec("master", mp, 0, "ASYNC_MASTER"));
    master.wait_ready();
    on_master.wait_for("/primary", Duration::from_secs(10), |c, _| c == 200);
    on_master.wait_for("/health", Duration::from_secs(2), |c, _| c == 200);
    let run = sidecar(&["role", "--broker", &m_addr, "--namesrv", &ns], &[], Duration::from_secs(10));
    assert_eq!(run.stdout, "master\n", "{}", run.stderr);

    // 3. The master dies for good; the slave is restarted as the shard's master (brokerId 0,
    //    ASYNC_MASTER, same store). The probe next to it must follow the flip.
    master.kill();
    slave.stop();
    let conf = dir.join("slave/broker.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let text = text.replace("brokerId=1", "brokerId=0").replace("brokerRole=SLAVE", "brokerRole=ASYNC_MASTER");
    std::fs::write(&conf, text).unwrap();
    let promoted = start_broker(&spec("slave", sp, 0, "ASYNC_MASTER"));
    promoted.wait_ready();
    on_slave.wait_for("/primary", Duration::from_secs(10), |c, _| c == 200);
    assert_eq!(on_slave.get("/replica").0, 503);
    assert_eq!(on_slave.get("/role").1, "master\n");
    let status = on_slave.status();
    assert_eq!(status["brokerId"], 0);
    assert!(status["roleChanges"].as_u64().unwrap() >= 1, "{status}");
    assert!(on_slave.log().contains("role changed"), "role change logged");
    let run = sidecar(&["role", "--broker", &s_addr, "--namesrv", &ns], &[], Duration::from_secs(10));
    assert_eq!(run.stdout, "master\n", "{}", run.stderr);
}
