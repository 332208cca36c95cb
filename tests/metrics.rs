//! `GET /metrics` against real 4.9.6 brokers: lag and offsets equal what mqadmin reports, the role
//! gauge on master and slave, broker-up when the broker dies (while /metrics stays fast), reload
//! outcomes counted, and every page parses as Prometheus text with no duplicate series.
mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

use common::proxy::{FaultProxy, Mode};
use common::{client, commit_offset, create_topic, free_port, http_get, root, Cluster, Serve, ACL_ADMIN};

fn cluster() -> &'static Cluster {
    Cluster::shared()
}

/// One scrape, parsed with a Prometheus text-format parser; panics on a parse error or on a
/// series (name + labels) or family declared twice.
fn scrape(serve: &Serve) -> BTreeMap<String, f64> {
    let (code, body, _) = serve.get("/metrics");
    assert_eq!(code, 200, "{body}");
    parse_page(&body)
}

/// A page as series (name and labels) → value; panics on what is not Prometheus text.
fn parse_page(body: &str) -> BTreeMap<String, f64> {
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{body}"));
    assert!(!parsed.samples.is_empty(), "{body}");
    let (mut series, mut families) = (HashSet::new(), HashSet::new());
    let mut out = BTreeMap::new();
    for line in body.lines() {
        if let Some(family) = line.strip_prefix("# TYPE ") {
            let name = family.split_whitespace().next().unwrap().to_string();
            assert!(families.insert(name.clone()), "family {name} declared twice");
        } else if !line.starts_with('#') && !line.is_empty() {
            let (key, value) = line.rsplit_once(' ').unwrap();
            assert!(series.insert(key.to_string()), "duplicate series {key}");
            out.insert(key.to_string(), value.parse().unwrap_or_else(|_| panic!("bad value in {line}")));
        }
    }
    out
}

/// The value of the one series of `name` whose labels include all of `labels`.
fn value(page: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let hits: Vec<f64> = page
        .iter()
        .filter(|(k, _)| k.split('{').next() == Some(name))
        .filter(|(k, _)| labels.iter().all(|(l, v)| k.contains(&format!("{l}=\"{v}\""))))
        .map(|(_, v)| *v)
        .collect();
    assert!(hits.len() <= 1, "{name} {labels:?} matches {} series", hits.len());
    hits.first().copied()
}

fn scrape_timed(serve: &Serve) -> Duration {
    let (code, body, took) = serve.get("/metrics");
    assert_eq!(code, 200, "{body}");
    took
}

fn wait_page(serve: &Serve, what: &str, ok: impl Fn(&BTreeMap<String, f64>) -> bool) -> BTreeMap<String, f64> {
    wait_page_within(serve, what, Duration::from_secs(30), ok)
}

fn wait_page_within(
    serve: &Serve,
    what: &str,
    within: Duration,
    ok: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + within;
    loop {
        let page = scrape(serve);
        if ok(&page) {
            return page;
        }
        assert!(Instant::now() < deadline, "{what}: not reached; last page:\n{page:#?}\nlog:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn serve_on(broker: &str, extra: &[&str]) -> Serve {
    let ns = cluster().namesrv.addr();
    let mut args =
        vec!["--broker", broker, "--namesrv", ns.as_str(), "--interval", "500ms", "--metrics-interval", "1s"];
    args.extend_from_slice(extra);
    Serve::start(&args)
}

/// mqadmin consumerProgress for `group`: (broker offset, consumer offset, diff) summed over the
/// queues of `topic`.
fn mqadmin_progress(group: &str, topic: &str) -> (i64, i64, i64) {
    let text = common::mqadmin(&["consumerProgress", "-n", &cluster().namesrv.addr(), "-g", group]);
    let mut sums = (0, 0, 0);
    for cols in text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()) {
        if cols.len() >= 6 && cols[0] == topic {
            let n = |i: usize| cols[i].parse::<i64>().unwrap_or_else(|_| panic!("{text}"));
            sums = (sums.0 + n(3), sums.1 + n(4), sums.2 + n(5));
        }
    }
    assert!(sums.0 > 0, "no rows for {topic} in:\n{text}");
    sums
}

#[test]
fn lag_and_offsets_equal_what_the_broker_reports_through_mqadmin() {
    let c = cluster();
    let (topic, group, produced, consumed) = ("MetricsT", "MetricsG", 40, 15);
    let ns = c.namesrv.addr();
    common::routed_topic(&ns, &[&c.master.addr()], topic, 4);
    let sent = client(&["produce", &ns, topic, &produced.to_string(), "0"]);
    assert_eq!(sent.iter().filter(|l| l.starts_with("ok ")).count(), produced, "{sent:?}");
    // The client consumes whole pulled batches, so it may take a few more than asked; M is what
    // it reports.
    let got = client(&["consume", &ns, topic, group, &consumed.to_string(), "30"]);
    let consumed: usize = got.first().and_then(|l| l.strip_prefix("consumed ")).and_then(|n| n.parse().ok()).unwrap();
    assert!(consumed < produced, "{got:?}");

    let serve = serve_on(&c.master.addr(), &[]);
    let lag = (produced - consumed) as f64;
    let diff = [("group", group), ("topic", topic)];
    let page = wait_page(&serve, "lag N-M", |p| value(p, "rocketmq_group_diff", &diff) == Some(lag));
    let (broker_offset, consumer_offset, mq_diff) = mqadmin_progress(group, topic);
    assert_eq!(mq_diff as f64, lag, "mqadmin agrees on the lag");
    assert_eq!(value(&page, "rocketmq_consumer_offset", &diff), Some(consumer_offset as f64));
    assert_eq!(value(&page, "rocketmq_producer_offset", &[("topic", topic)]), Some(broker_offset as f64));
    assert_eq!(broker_offset, produced as i64);
    // The exporter's label conventions: no consumer online now, CLUSTERING = 1.
    let labels = [("group", group), ("topic", topic), ("countOfOnlineConsumers", "0"), ("msgModel", "1")];
    assert_eq!(value(&page, "rocketmq_group_diff", &labels), Some(lag));
    assert_eq!(value(&page, "rocketmq_sidecar_scale_in_backlog_messages", &[]).map(|v| v >= lag), Some(true));
    assert_eq!(value(&page, "rocketmq_sidecar_broker_writable", &[]), Some(1.0), "brokerPermission=6");
    for name in ["rocketmq_brokeruntime_commitlog_disk_ratio", "rocketmq_brokeruntime_msg_put_total_today_now"] {
        assert!(value(&page, name, &[("brokerIP", &c.master.addr())]).is_some(), "{name} missing");
    }
    assert_eq!(value(&page, "rocketmq_sidecar_broker_metrics_dropped", &[]), Some(0.0));
}

/// An idle broker's topic offsets are read once and kept (no GET_TOPIC_STATS_INFO per topic per
/// refresh), and the first refresh that starts after a put shows it: a kept read that missed a
/// put would show the old offset here for up to a minute.
#[test]
fn an_idle_broker_keeps_its_topic_stats_and_the_next_refresh_after_a_put_shows_it() {
    let c = cluster();
    let topic = "MetricsKeptT";
    create_topic(&c.master.addr(), topic, 2);
    let serve = serve_on(&c.master.addr(), &[]);
    let kept = |p: &BTreeMap<String, f64>| value(p, "rocketmq_sidecar_broker_metrics_topic_stats_kept_total", &[]);
    let offset = |p: &BTreeMap<String, f64>| value(p, "rocketmq_producer_offset", &[("topic", topic)]);
    // Other tests on this cluster put messages now and then; a refresh with nothing put since
    // the one before comes within seconds of their last.
    let page = wait_page_within(&serve, "stats kept", Duration::from_secs(120), |p| kept(p) >= Some(2.0));
    assert_eq!(offset(&page), Some(0.0), "nothing put yet");
    let sent = client(&["produce", &c.namesrv.addr(), topic, "3", "0"]);
    assert_eq!(sent.iter().filter(|l| l.starts_with("ok ")).count(), 3, "{sent:?}");
    // The second refresh to end after the put began after it.
    let ended =
        |p: &BTreeMap<String, f64>| value(p, "rocketmq_sidecar_broker_metrics_last_success_timestamp_seconds", &[]);
    let first = ended(&scrape(&serve));
    let page = wait_page(&serve, "one refresh after the put", |p| ended(p) > first);
    let page = wait_page(&serve, "a refresh begun after the put", |p| ended(p) > ended(&page));
    assert_eq!(offset(&page), Some(3.0), "the put shows at once, never a kept offset");
    let page = wait_page_within(&serve, "stats kept again", Duration::from_secs(120), |p| kept(p) > kept(&page));
    assert_eq!(offset(&page), Some(3.0));
    // Kept offsets are read again in turns, a share of the topics per refresh (every topic within
    // a minute of its last read), never as a read of every topic at once.
    let again = |p: &BTreeMap<String, f64>| value(p, "rocketmq_sidecar_broker_metrics_topics_read_again_total", &[]);
    let page = wait_page_within(&serve, "topics read again in turn", Duration::from_secs(90), |p| again(p) > Some(0.0));
    assert_eq!(offset(&page), Some(3.0));
}

/// A broker with a few messages put between refreshes: the refresh reads the commit-log entries
/// appended since the last read of every topic (one VIEW_MESSAGE_BY_ID each) instead of asking
/// every topic again, and its offsets are what the producer was told. With the entries read but
/// not applied, the first refresh after the puts would show the old offsets.
#[test]
fn a_few_puts_are_caught_up_from_the_commit_log_and_show_at_once() {
    let c = cluster();
    let (a, b) = ("MetricsCatchUpA", "MetricsCatchUpB");
    create_topic(&c.master.addr(), a, 4);
    create_topic(&c.master.addr(), b, 2);
    // Enough topics that reading a few entries is cheaper than asking every topic (one entry
    // per 8 topics), with room for what other tests on this cluster put meanwhile.
    for i in 0..160 {
        create_topic(&c.master.addr(), &format!("MetricsCatchUpIdle{i}"), 1);
    }
    let serve = serve_on(&c.master.addr(), &[]);
    let counter = |name: &str, p: &BTreeMap<String, f64>| value(p, name, &[]).unwrap_or(0.0);
    let caught_up =
        |p: &BTreeMap<String, f64>| counter("rocketmq_sidecar_broker_metrics_topic_stats_caught_up_total", p);
    let kept = |p: &BTreeMap<String, f64>| counter("rocketmq_sidecar_broker_metrics_topic_stats_kept_total", p);
    let offset = |p: &BTreeMap<String, f64>, t: &str| value(p, "rocketmq_producer_offset", &[("topic", t)]);
    // Stats read once and found still (kept, or caught up from other tests' puts).
    wait_page_within(&serve, "stats carried over", Duration::from_secs(120), |p| {
        kept(p) + caught_up(p) >= 1.0 && offset(p, a) == Some(0.0)
    });
    // Other tests on this cluster create topics and put meanwhile: a refresh after either reads
    // every topic instead (a changed topic table, or more entries than a catch-up may walk). So the
    // puts are repeated, a few rounds at most, until a refresh after them caught up.
    let ended =
        |p: &BTreeMap<String, f64>| value(p, "rocketmq_sidecar_broker_metrics_last_success_timestamp_seconds", &[]);
    let mut sent = (0.0, 0.0);
    for _round in 0..5 {
        let start = scrape(&serve);
        for (topic, n) in [(a, "5"), (b, "2")] {
            let out = client(&["produce", &c.namesrv.addr(), topic, n, "0"]);
            assert_eq!(out.iter().filter(|l| l.starts_with("ok ")).count().to_string(), n, "{out:?}");
        }
        sent = (sent.0 + 5.0, sent.1 + 2.0);
        // The second refresh to end after the puts began after them.
        let first = ended(&scrape(&serve));
        let one = wait_page(&serve, "one refresh after the puts", |p| ended(p) > first);
        let page = wait_page(&serve, "a refresh begun after the puts", |p| ended(p) > ended(&one));
        assert_eq!((offset(&page, a), offset(&page, b)), (Some(sent.0), Some(sent.1)), "the puts show at once");
        if caught_up(&page) > caught_up(&start) {
            return;
        }
    }
    panic!("no refresh caught up in 5 rounds of puts; log:\n{}", serve.log());
}

#[test]
fn role_gauge_on_master_and_slave_and_the_slave_reports_its_fall_behind() {
    let c = cluster();
    let master = serve_on(&c.master.addr(), &[]);
    let slave = serve_on(&c.slave.addr(), &[]);
    let m =
        wait_page(&master, "master role", |p| value(p, "rocketmq_sidecar_role", &[("role", "master")]) == Some(1.0));
    assert_eq!(value(&m, "rocketmq_sidecar_role", &[("role", "slave")]), Some(0.0));
    assert_eq!(value(&m, "rocketmq_sidecar_broker_up", &[]), Some(1.0));
    assert_eq!(value(&m, "rocketmq_broker_commitlog_diff", &[]), None, "a master has no fall-behind");

    let s = wait_page(&slave, "slave lag", |p| value(p, "rocketmq_broker_commitlog_diff", &[]).is_some());
    assert_eq!(value(&s, "rocketmq_sidecar_role", &[("role", "slave")]), Some(1.0));
    assert_eq!(value(&s, "rocketmq_sidecar_role", &[("role", "master")]), Some(0.0));
    let labels = [("brokerIP", c.slave.addr()), ("broker", "broker-a".into())];
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(value(&s, "rocketmq_broker_commitlog_diff", &labels).is_some_and(|v| v >= 0.0));
    // A slave exports its runtime, not the topic/group series (those come from the master).
    assert_eq!(value(&s, "rocketmq_producer_offset", &[("topic", "TBW102")]), None);
    assert!(value(&s, "rocketmq_brokeruntime_commitlog_maxoffset", &[("brokerIP", &c.slave.addr())]).is_some());
}

/// deploy/grafana's dashboard loads as is (valid JSON) and every metric its queries read is one
/// that a sidecar exports: on a master with a group behind on a topic and its retry topic and a
/// config file, on a slave, and on a broker that does not answer (for the error counters).
#[test]
fn dashboard_reads_only_metrics_we_export() {
    let c = cluster();
    let master = c.master.addr();
    let (topic, retry, group) = ("DashT", "%RETRY%DashG", "DashG");
    create_topic(&master, topic, 2);
    create_topic(&master, retry, 1);
    for (t, q) in [(topic, 0), (topic, 1), (retry, 0)] {
        commit_offset(&master, group, t, q, 0);
    }
    let dir = common::scratch("metrics-dashboard");
    let file = dir.join("broker.conf");
    std::fs::write(&file, "").unwrap();
    let on_master = serve_on(&master, &["--config-file", file.to_str().unwrap()]);
    let on_slave = serve_on(&c.slave.addr(), &[]);
    let dead = format!("127.0.0.1:{}", common::free_port());
    let on_dead = serve_on(&dead, &[]);
    let pages = [
        wait_page(&on_master, "group and retry lag", |p| {
            value(p, "rocketmq_group_retrydiff", &[("group", group)]).is_some()
                && value(p, "rocketmq_sidecar_reload_outcomes_total", &[("result", "unchanged")]).is_some()
        }),
        wait_page(&on_slave, "slave lag", |p| value(p, "rocketmq_broker_commitlog_diff", &[]).is_some()),
        wait_page(&on_dead, "errors", |p| p.keys().any(|k| k.starts_with("rocketmq_sidecar_request_errors_total"))),
    ];
    let exported: HashSet<&str> = pages.iter().flat_map(|p| p.keys()).map(|k| k.split('{').next().unwrap()).collect();
    let text = std::fs::read_to_string(root().join("deploy/grafana/rocketmq-sidecar.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut checked = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("rocketmq_") {
                    assert!(
                        exported.contains(word),
                        "panel {:?} reads {word}, which no sidecar exports",
                        panel["title"]
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 15, "only {checked} metric references found");
}

#[test]
fn broker_killed_broker_up_drops_to_zero_and_metrics_keep_answering_fast() {
    let c = cluster();
    let (ak, sk) = ACL_ADMIN;
    let secret_file = common::scratch("metrics-secret").join("sk");
    std::fs::write(&secret_file, sk).unwrap();
    let file = secret_file.to_str().unwrap();
    let serve = serve_on(&c.acl.addr(), &["--access-key", ak, "--secret-key-file", file, "--no-namesrv-check"]);
    let page = wait_page(&serve, "acl broker up", |p| {
        value(p, "rocketmq_sidecar_broker_up", &[]) == Some(1.0)
            && value(p, "rocketmq_brokeruntime_commitlog_maxoffset", &[]).is_some()
    });
    assert!(value(&page, "rocketmq_sidecar_broker_metrics_series", &[]).unwrap() > 10.0);
    c.acl.kill();
    let page = wait_page(&serve, "broker down", |p| {
        value(p, "rocketmq_sidecar_broker_up", &[]) == Some(0.0)
            && value(p, "rocketmq_sidecar_role", &[("role", "unknown")]) == Some(1.0)
    });
    assert_eq!(value(&page, "rocketmq_sidecar_role", &[("role", "master")]), Some(0.0), "never a stale master");
    let page = wait_page(&serve, "stale broker series dropped", |p| {
        value(p, "rocketmq_brokeruntime_commitlog_maxoffset", &[]).is_none()
    });
    assert!(page.keys().any(|k| k.starts_with("rocketmq_sidecar_request_errors_total{")), "errors counted");
    // Every scrape answers while the broker is down (a page from memory, never a broker wait);
    // the time is reported, not asserted: a loaded 2-core machine makes any bound flaky.
    let worst = (0..20).map(|_| scrape_timed(&serve)).max().unwrap();
    eprintln!("scrapes while the broker is down: worst {worst:?}");
    let (_, body, _) = serve.get("/metrics");
    assert!(!body.contains(sk) && !serve.log().contains(sk), "the ACL secret never shows");
}

#[test]
fn reload_outcomes_are_counted() {
    let c = cluster();
    let dir = common::scratch("metrics-reload");
    let file = dir.join("broker.conf");
    let write = |text: &str| {
        let tmp = dir.join("broker.conf.tmp");
        std::fs::File::create(&tmp).unwrap().write_all(text.as_bytes()).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    write("");
    let file_arg = file.to_str().unwrap().to_string();
    let serve = serve_on(&c.master.addr(), &["--config-file", &file_arg, "--reload-interval", "60s"]);
    let outcome = |result: &'static str| {
        move |p: &BTreeMap<String, f64>| {
            value(p, "rocketmq_sidecar_reload_outcomes_total", &[("result", result)]).unwrap_or(0.0) >= 1.0
        }
    };
    wait_page(&serve, "first pass", outcome("unchanged"));
    write("autoDeleteUnusedStats=true\n");
    wait_page(&serve, "applied", outcome("applied"));
    write("autoDeleteUnusedStats=maybe\n");
    let page = wait_page(&serve, "rejected", outcome("rejected"));
    assert_eq!(value(&page, "rocketmq_sidecar_reload_outcomes_total", &[("result", "applied")]), Some(1.0));
    assert_eq!(value(&page, "rocketmq_sidecar_reload_outcomes_total", &[("result", "error")]), Some(0.0));
    write("autoDeleteUnusedStats=false\n");
    wait_page(&serve, "restored", |p| {
        value(p, "rocketmq_sidecar_reload_outcomes_total", &[("result", "applied")]) == Some(2.0)
    });
}

/// Counters (and histogram parts, which only grow) of the agent's own families.
fn is_counter(series: &str) -> bool {
    let name = series.split('{').next().unwrap_or_default();
    name.starts_with("rocketmq_sidecar_") && ["_total", "_count", "_sum", "_bucket"].iter().any(|s| name.ends_with(s))
}

/// What one scraper thread saw go wrong across its sequential scrapes of `port`.
fn scrape_until(port: u16, until: Instant) -> (usize, Vec<String>) {
    let (mut seen, mut wrong, mut scrapes) = (BTreeMap::<String, f64>::new(), Vec::new(), 0);
    while Instant::now() < until {
        let (code, body, _) = http_get(port, "/metrics");
        if code != 200 {
            wrong.push(format!("port {port}: /metrics answered {code}"));
            continue;
        }
        let page = parse_page(&body);
        scrapes += 1;
        let roles: Vec<f64> = ["master", "slave", "unknown"]
            .iter()
            .filter_map(|r| value(&page, "rocketmq_sidecar_role", &[("role", r)]))
            .collect();
        if roles.len() != 3 || roles.iter().sum::<f64>() != 1.0 {
            wrong.push(format!("port {port}: role series {roles:?} (want all three, one of them 1)"));
        }
        for (series, before) in &seen {
            match page.get(series) {
                None => wrong.push(format!("port {port}: {series} (was {before}) is missing")),
                Some(now) if now < before => wrong.push(format!("port {port}: {series} went {before} -> {now}")),
                Some(_) => {}
            }
        }
        seen = page.into_iter().filter(|(k, _)| is_counter(k)).collect();
    }
    (scrapes, wrong)
}

/// The role checks, failures and role changes `/status` counts (the truth the metrics render).
fn status_counters(serve: &Serve) -> [f64; 3] {
    let c = serve.status();
    ["checks", "failures", "roleChanges"].map(|k| c[k].as_f64().unwrap_or_else(|| panic!("/status {k}: {c}")))
}

#[test]
fn concurrent_scrapes_on_both_listeners_while_the_role_flips_stay_monotonic_complete_and_true() {
    let c = cluster();
    let proxy = FaultProxy::start(c.master.addr());
    let agent = free_port();
    let (via, agent_listen) = (proxy.addr(), format!("127.0.0.1:{agent}"));
    let serve = serve_on(&via, &["--agent-listen", &agent_listen, "--timeout", "300ms", "--no-namesrv-check"]);
    wait_page(&serve, "master", |p| value(p, "rocketmq_sidecar_role", &[("role", "master")]) == Some(1.0));
    let before = status_counters(&serve);
    // For 10 s: the broker goes silent and comes back every second (master -> unknown -> master)
    // while 32 scrapers on each listener read /metrics back to back.
    let until = Instant::now() + Duration::from_secs(10);
    let scrapers: Vec<_> = (0..64)
        .map(|i| {
            let port = if i % 2 == 0 { serve.port } else { agent };
            std::thread::spawn(move || scrape_until(port, until))
        })
        .collect();
    let mut silent = false;
    while Instant::now() < until {
        silent = !silent;
        proxy.set(if silent { Mode::BlackHole } else { Mode::Pass });
        std::thread::sleep(Duration::from_secs(1));
    }
    proxy.set(Mode::Pass);
    let (mut scrapes, mut wrong) = (0, Vec::new());
    for s in scrapers {
        let (n, w) = s.join().unwrap();
        scrapes += n;
        wrong.extend(w);
    }
    assert!(
        wrong.is_empty(),
        "{} of {scrapes} scrapes went wrong, e.g.:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(10)].join("\n")
    );
    // After the burst every counter equals its truth: bracketed by /status read just before and after.
    wait_page(&serve, "master again", |p| value(p, "rocketmq_sidecar_role", &[("role", "master")]) == Some(1.0));
    let low = status_counters(&serve);
    let page = scrape(&serve);
    let high = status_counters(&serve);
    assert!(low[2] - before[2] >= 2.0, "the role flipped during the burst: {before:?} -> {low:?}");
    for (i, name) in ["role_checks_total", "role_check_failures_total", "role_changes_total"].iter().enumerate() {
        let metric = value(&page, &format!("rocketmq_sidecar_{name}"), &[]).unwrap_or_else(|| panic!("no {name}"));
        assert!(low[i] <= metric && metric <= high[i], "{name} = {metric}, the truth was {} .. {}", low[i], high[i]);
    }
    eprintln!("{scrapes} scrapes on two listeners, none wrong");
}
