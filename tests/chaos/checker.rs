//! The checker: every recorded answer against the ground truth. Each rule counts what it checked
//! and names each violation with its times. The bounds are the documented ones (README, "Fault
//! campaign"):
//! - `master` (from `/role` or `/primary`) for a broker that had been down (SIGKILL or SIGSTOP) or
//!   that the admin client saw as a slave for the whole [`STALE_MASTER_MS`] before the question;
//! - two sidecars of one group saying `master` together for longer than [`ELECTION_LAG_MS`], unless
//!   the admin client saw both brokers as masters then too (the broker's own; recorded apart);
//! - "safe" (`/scale-in` 200, `scale-in check` exit 0) while a message the producer had sent to that
//!   shard before the question was not yet finished by every consumer;
//! - broker values from no single file version (half-applied), or "applied" (verified) values that
//!   no file version holds or that the broker did not show right after;
//! - a counter that went down, role checks ahead of the clock, produced offsets ahead of the sends;
//! - a panic, a role / reload / metrics task that stopped, `/live` not 200, an in-memory answer
//!   slower than [`PROBE_TIMEOUT_MS`], `/scale-in` slower than its 10 s budget (the CLI's checks and
//!   drains have their own bounds below), and a sidecar that
//!   disagrees with its broker once the faults stop;
//! - `serve`'s RSS or open files growing over the run.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::facts::Facts;
use crate::history::{Answer, Body, History, ProcEvent};
use crate::load::role_of;
use crate::world::{field, Group, KEYS};

/// 3 check intervals (a check older than that is unknown) plus 2 s for a check in flight.
pub const STALE_MASTER_MS: u64 = 5_000;
/// A new master is reported within one check of the broker's own change; two sidecars may overlap
/// for as long as a check interval and a probe's spacing, rounded up to 3 intervals.
pub const ELECTION_LAG_MS: u64 = 3_000;
/// The shipped kubelet probes' timeoutSeconds (deploy/kubeblocks/*/componentdefinition.yaml).
pub const PROBE_TIMEOUT_MS: u64 = 1_000;
/// One scan's budget (5 x --timeout) plus 1 s. The handler may wait for two scans (one in flight when
/// asked, then its own), but the campaign has one caller per `serve`, asking 15-30 s after its last
/// answer (tests/chaos/load.rs): no scan of its own is in flight or too recent then, so each answer
/// waits for one scan.
pub const SCALE_IN_TIMEOUT_MS: u64 = 11_000;
/// A CLI check has no overall budget of its own: each of its requests has --timeout (2 s) and its
/// steps run one after another; 30 s is far above any seen.
pub const CLI_CHECK_TIMEOUT_MS: u64 = 30_000;
/// A drain ends by its --drain-timeout (at most 100 s here) plus the permission's restore.
pub const CLI_DRAIN_TIMEOUT_MS: u64 = 130_000;

fn time_limit(what: &str) -> u64 {
    match what {
        "/scale-in" => SCALE_IN_TIMEOUT_MS,
        "cli scale-in check" => CLI_CHECK_TIMEOUT_MS,
        "cli scale-in drain" => CLI_DRAIN_TIMEOUT_MS,
        _ => PROBE_TIMEOUT_MS,
    }
}

#[derive(Default)]
pub struct Report {
    pub violations: Vec<String>,
    pub broker_own: Vec<String>,
    pub checked: BTreeMap<&'static str, u64>,
    pub footprints: Vec<String>,
}

impl Report {
    fn count(&mut self, rule: &'static str, n: u64) {
        *self.checked.entry(rule).or_default() += n;
    }

    fn violation(&mut self, text: String) {
        self.violations.push(text);
    }
}

/// One admin-client reading of a broker.
struct Truth {
    at: u64,
    broker: usize,
    /// `master` / `slave` / `unknown`; None when the call failed.
    role: Option<&'static str>,
    values: BTreeMap<String, String>,
}

/// What the clients did on one name-server side.
#[derive(Default)]
struct Traffic {
    /// (time, shard, queue, offset) per successful send.
    sends: Vec<(u64, String, u32, u64)>,
    errors: Vec<u64>,
    /// Per consumer: (shard, queue, offset) → first time finished.
    acks: Vec<HashMap<(String, u32, u64), u64>>,
}

pub fn check(facts: &Facts, history: &History, agreement: &[(usize, String, String)]) -> Report {
    let mut report = Report::default();
    let answers = history.answers.lock().unwrap().clone();
    let procs = history.procs.lock().unwrap().clone();
    let truths = truths(facts);
    let traffic = traffic(facts);
    stale_masters(facts, &answers, &procs, &truths, &mut report);
    two_masters(facts, &answers, &truths, &mut report);
    safe_verdicts(facts, &answers, &traffic, &mut report);
    writes_after_drained(facts, history, &answers, &traffic, &mut report);
    reloads(facts, history, &answers, &procs, &truths, &mut report);
    counters(facts, &answers, &traffic, &mut report);
    liveness(facts, &answers, agreement, &mut report);
    footprints(facts, history, &mut report);
    report
}

fn num(s: &str) -> u64 {
    s.parse().unwrap_or(0)
}

fn truths(facts: &Facts) -> Vec<Truth> {
    let index: HashMap<String, usize> = facts.brokers.iter().enumerate().map(|(i, b)| (b.addr.clone(), i)).collect();
    let mut out: Vec<Truth> = facts
        .truth
        .iter()
        .filter_map(|l| {
            let broker = *index.get(field(l, 2))?;
            let ok = l.starts_with("cfg ");
            Some(Truth {
                at: num(field(l, 1)),
                broker,
                role: ok.then(|| role_of(field(l, 3))),
                values: if ok { crate::world::parse_values(field(l, 5)) } else { BTreeMap::new() },
            })
        })
        .collect();
    out.sort_by_key(|t| t.at);
    out
}

/// Clients in `World::start_clients` order: per side a CLUSTERING and a BROADCASTING consumer,
/// then the producer; side 0 is the 4.9.6 name-server pair, side 1 the 5.x one.
fn traffic(facts: &Facts) -> [Traffic; 2] {
    let clients = &facts.clients;
    let mut sides: [Traffic; 2] = Default::default();
    for (side, t) in sides.iter_mut().enumerate() {
        for consumer in &clients[side * 3..side * 3 + 2] {
            let acks = lines(consumer, "msg ")
                .map(|l| ((field(l, 2).to_string(), num(field(l, 3)) as u32, num(field(l, 4))), num(field(l, 1))))
                .fold(HashMap::new(), |mut m, (k, at)| {
                    m.entry(k).or_insert(at);
                    m
                });
            t.acks.push(acks);
        }
        let producer = &clients[side * 3 + 2];
        t.sends = lines(producer, "ok ")
            .map(|l| (num(field(l, 1)), field(l, 2).to_string(), num(field(l, 3)) as u32, num(field(l, 4))))
            .collect();
        t.errors = lines(producer, "error ").map(|l| num(field(l, 1))).collect();
    }
    sides
}

fn lines<'a>(client: &'a [String], prefix: &'a str) -> impl Iterator<Item = &'a String> {
    client.iter().filter(move |l| l.starts_with(prefix))
}

fn side_of(group: Group) -> usize {
    if group == Group::Controller {
        1
    } else {
        0
    }
}

/// Whether process `key` was down (killed or paused) for the whole of [from, to].
fn down_throughout(procs: &[ProcEvent], key: &str, from: u64, to: u64) -> bool {
    let mut down = false;
    for e in procs.iter().filter(|e| e.key == key) {
        if e.at <= from {
            down = !e.up;
        } else if e.at <= to && e.up {
            return false;
        }
    }
    down
}

/// Whether the admin client saw broker `b` as a slave all through [from, to] and once more after
/// `to` (its readings come about every second, so only a reading after the question shows the
/// broker was still a slave when it was asked), with no gap over 1.5 s.
fn slave_throughout(truths: &[Truth], b: usize, from: u64, to: u64) -> bool {
    let seen: Vec<&Truth> = truths.iter().filter(|t| t.broker == b && t.at >= from && t.at <= to + 2_000).collect();
    seen.iter().all(|t| t.role == Some("slave"))
        && seen.first().is_some_and(|t| t.at <= from + 1_500)
        && seen.last().is_some_and(|t| t.at >= to)
        && seen.windows(2).all(|w| w[1].at - w[0].at <= 1_500)
}

fn says_master(a: &Answer) -> bool {
    a.code == 200 && (a.what == "/primary" || (a.what == "/role" && a.body.text() == "master"))
}

fn stale_masters(facts: &Facts, answers: &[Answer], procs: &[ProcEvent], truths: &[Truth], report: &mut Report) {
    for a in answers.iter().filter(|a| says_master(a)) {
        report.count("master answers checked against process states and the admin client", 1);
        let b = facts.serves[a.serve].broker;
        let from = a.sent.saturating_sub(STALE_MASTER_MS);
        let key = &facts.brokers[b].key;
        if down_throughout(procs, key, from, a.sent) {
            report.violation(format!(
                "{} at {}: serve {} said master for {key}, down since before {from}",
                a.what, a.sent, a.serve
            ));
        } else if slave_throughout(truths, b, from, a.sent) {
            report.violation(format!(
                "{} at {}: serve {} said master for {key}, a slave by its own config since {from}",
                a.what, a.sent, a.serve
            ));
        }
    }
}

/// Per serve, the `/role` answers in order of arrival: (got, is master).
fn role_timelines(facts: &Facts, answers: &[Answer]) -> Vec<Vec<(u64, bool)>> {
    let mut lines = vec![Vec::new(); facts.serves.len()];
    for a in answers.iter().filter(|a| a.what == "/role") {
        lines[a.serve].push((a.got, a.code == 200 && a.body.text() == "master"));
    }
    for l in &mut lines {
        l.sort_by_key(|x| x.0);
    }
    lines
}

/// Whether the latest answer of `line` at `t` said master and was at most 1 s old.
fn claims_at(line: &[(u64, bool)], t: u64) -> bool {
    let i = line.partition_point(|x| x.0 <= t);
    i > 0 && line[i - 1].1 && line[i - 1].0 + 1_000 >= t
}

fn two_masters(facts: &Facts, answers: &[Answer], truths: &[Truth], report: &mut Report) {
    let lines = role_timelines(facts, answers);
    let (Some(first), Some(last)) = (answers.iter().map(|a| a.got).min(), answers.iter().map(|a| a.got).max()) else {
        return;
    };
    for group in [Group::Pair, Group::Dledger, Group::Controller] {
        let members: Vec<usize> = (0..facts.serves.len()).filter(|i| facts.serves[*i].group == group).collect();
        let mut window: Option<u64> = None;
        let mut t = first;
        while t <= last + 100 {
            let n = members.iter().filter(|m| claims_at(&lines[**m], t)).count();
            report.count("100 ms steps checked for two masters in one group", 1);
            match (n >= 2, window) {
                (true, None) => window = Some(t),
                (false, Some(w0)) => {
                    window = None;
                    if t - w0 > ELECTION_LAG_MS {
                        two_master_window(facts, group, &members, truths, w0, t, report);
                    }
                }
                _ => {}
            }
            t += 100;
        }
    }
}

fn two_master_window(
    facts: &Facts,
    group: Group,
    members: &[usize],
    truths: &[Truth],
    w0: u64,
    w1: u64,
    report: &mut Report,
) {
    let brokers: Vec<usize> = members.iter().map(|m| facts.serves[*m].broker).collect();
    let masters_seen: Vec<String> = truths
        .iter()
        .filter(|t| brokers.contains(&t.broker) && t.at + 1_000 >= w0 && t.at <= w1 + 1_000 && t.role == Some("master"))
        .map(|t| facts.brokers[t.broker].key.clone())
        .collect();
    let mut distinct = masters_seen.clone();
    distinct.sort();
    distinct.dedup();
    let text = format!("{}: two sidecars said master from {w0} to {w1} ({} ms)", group.name(), w1 - w0);
    if distinct.len() >= 2 {
        report.broker_own.push(format!("{text}; the admin client saw {distinct:?} as masters then too"));
    } else {
        report.violation(format!("{text}; the admin client saw only {distinct:?} as master"));
    }
}

fn safe_verdicts(facts: &Facts, answers: &[Answer], traffic: &[Traffic; 2], report: &mut Report) {
    // (side, consumer, shard, queue, offset) of messages a consumer moved past without finishing.
    let mut skipped: BTreeMap<(usize, usize, String, u32, u64), String> = BTreeMap::new();
    // Shown even when 0: a short campaign can have no "safe" answer, and the rule then checked nothing.
    const SAID_SAFE: &str = "scale-in verdicts that said safe or drained";
    report.count(SAID_SAFE, 0);
    for a in answers.iter().filter(|a| a.what == "/scale-in" || a.what.starts_with("cli scale-in")) {
        report.count("scale-in verdicts checked against sends and consumes", 1);
        if a.code != 200 {
            continue;
        }
        report.count(SAID_SAFE, 1);
        // A drain's verdict is the moment it said drained; a check's, the moment it was asked.
        let at = if a.what == "cli scale-in drain" { a.got } else { a.sent };
        let group = facts.brokers[facts.serves.get(a.serve).map_or(a.serve, |s| s.broker)].group;
        let side = side_of(group);
        let t = &traffic[side];
        let mut pending = Vec::new();
        for (sent, shard, q, off) in t.sends.iter().filter(|(sent, shard, ..)| *sent < at && shard == group.shard()) {
            for (c, acks) in t.acks.iter().enumerate() {
                let done = acks.get(&(shard.clone(), *q, *off));
                if done.is_some_and(|done| *done <= at) {
                    continue;
                }
                // Never finished, while the consumer finished later offsets of that queue: skipped.
                match passed_by(acks, shard, *q, *off, at).filter(|_| done.is_none()) {
                    Some((later, when)) => {
                        let evidence = format!("sent at {sent}; consumer {c} finished offset {later} of that queue at {when} but never this one");
                        skipped.entry((side, c, shard.clone(), *q, *off)).or_insert(evidence);
                    }
                    None => pending.push((*sent, shard.clone(), *q, *off, c)),
                }
            }
        }
        if let Some(first) = pending.first() {
            report.violation(format!(
                "{} at {at} (serve {}): safe, but {} message(s) sent to {} were not finished by every consumer (first: {first:?})",
                a.what,
                a.serve,
                pending.len(),
                group.shard()
            ));
        }
    }
    for ((side, c, shard, q, off), evidence) in &skipped {
        report.broker_own.push(format!(
            "side {side} consumer {c} moved past {shard} queue {q} offset {off} without finishing it ({evidence}): the client's own loss, before any verdict; a later \"safe\" cannot lose it again"
        ));
    }
}

/// A later offset of the same queue that the consumer finished before `at` (the consumer's offset
/// has moved past `off`: it will not be delivered to it again).
fn passed_by(acks: &HashMap<(String, u32, u64), u64>, shard: &str, q: u32, off: u64, at: u64) -> Option<(u64, u64)> {
    acks.iter()
        .filter(|((s, queue, o), done)| s == shard && *queue == q && *o > off && **done <= at)
        .map(|((.., o), done)| (*o, *done))
        .min()
}

/// After "drained", no send to that shard may succeed until the harness gives the write permission
/// back.
fn writes_after_drained(
    facts: &Facts,
    history: &History,
    answers: &[Answer],
    traffic: &[Traffic; 2],
    report: &mut Report,
) {
    let restores = history.restores.lock().unwrap().clone();
    for a in answers.iter().filter(|a| a.what == "cli scale-in drain" && a.code == 200) {
        report.count("drained verdicts checked for later writes", 1);
        let group = facts.brokers[a.serve].group;
        let until = restores
            .iter()
            .filter(|(at, shard)| shard == group.shard() && *at >= a.got)
            .map(|r| r.0)
            .min()
            .unwrap_or(u64::MAX);
        let late: Vec<_> = traffic[side_of(group)]
            .sends
            .iter()
            .filter(|s| s.1 == group.shard() && s.0 > a.got && s.0 < until)
            .collect();
        if let Some(first) = late.first() {
            report.violation(format!(
                "{} drained at {}, but {} send(s) succeeded before {until} (first: {first:?})",
                group.shard(),
                a.got,
                late.len()
            ));
        }
    }
}

fn reloads(
    facts: &Facts,
    history: &History,
    answers: &[Answer],
    procs: &[ProcEvent],
    truths: &[Truth],
    report: &mut Report,
) {
    let versions = history.versions.lock().unwrap().clone();
    let keys_of = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        KEYS.iter().filter_map(|k| m.get(*k).map(|v| (k.to_string(), v.clone()))).collect()
    };
    for t in truths.iter().filter(|t| t.role.is_some()) {
        report.count("broker config readings checked for half-applied files", 1);
        let s = t.broker;
        let now = keys_of(&t.values);
        let whole = std::iter::once(&facts.baselines[s])
            .chain(versions.iter().filter(|v| v.serve == s && v.at <= t.at + 2_000).filter_map(|v| v.expect.as_ref()))
            .any(|v| keys_of(v) == now);
        if !whole {
            report.violation(format!(
                "{} at {}: values {now:?} are from no single version of its file",
                facts.brokers[s].key, t.at
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for a in answers.iter().filter(|a| a.what == "/status") {
        let Body::Status(st) = &a.body else { continue };
        let (Some(at), Some(applied)) =
            (st["reload"]["lastAppliedMs"].as_u64(), st["reload"]["lastApplied"].as_array())
        else {
            continue;
        };
        if !seen.insert((a.serve, at)) {
            continue;
        }
        report.count("applied (verified) outcomes checked against versions and the broker", 1);
        let values: BTreeMap<String, String> = applied
            .iter()
            .filter_map(|c| Some((c["key"].as_str()?.to_string(), c["to"].as_str()?.to_string())))
            .filter(|(k, _)| KEYS.contains(&k.as_str()))
            .collect();
        verified_values(facts, &versions, procs, truths, a.serve, at, &values, report);
    }
}

#[allow(clippy::too_many_arguments)]
fn verified_values(
    facts: &Facts,
    versions: &[crate::history::Version],
    procs: &[ProcEvent],
    truths: &[Truth],
    s: usize,
    at: u64,
    values: &BTreeMap<String, String>,
    report: &mut Report,
) {
    let key = &facts.brokers[s].key;
    let from_one = versions
        .iter()
        .filter(|v| v.serve == s && v.at <= at)
        .filter_map(|v| v.expect.as_ref())
        .any(|v| values.iter().all(|(k, val)| v.get(k) == Some(val)));
    if !from_one {
        report.violation(format!("serve {s} at {at}: applied {values:?}, which no valid version of its file holds"));
        return;
    }
    let busy = versions.iter().any(|v| v.serve == s && v.at > at.saturating_sub(3_000) && v.at <= at + 3_000)
        || procs.iter().any(|p| p.key == *key && p.at + 3_000 >= at && p.at <= at + 3_000);
    let after: Vec<&Truth> =
        truths.iter().filter(|t| t.broker == s && t.role.is_some() && t.at + 200 >= at && t.at <= at + 3_000).collect();
    if busy || after.is_empty() {
        return;
    }
    if !after.iter().any(|t| values.iter().all(|(k, v)| t.values.get(k) == Some(v))) {
        report
            .violation(format!("serve {s} at {at}: verified {values:?}, but the broker showed otherwise right after"));
    }
}

fn series_name(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    series[start..].split('"').next()
}

fn counters(facts: &Facts, answers: &[Answer], traffic: &[Traffic; 2], report: &mut Report) {
    let mut last: HashMap<(usize, String), f64> = HashMap::new();
    let mut scrapes: Vec<&Answer> =
        answers.iter().filter(|a| matches!(a.body, Body::Metrics(_)) && a.code == 200).collect();
    scrapes.sort_by_key(|a| a.got);
    for a in scrapes {
        let Body::Metrics(m) = &a.body else { continue };
        let serve = &facts.serves[a.serve];
        for (series, v) in m {
            if series_name(series).ends_with("_total") {
                report.count("counter readings checked", 1);
                let prev = last.insert((a.serve, series.clone()), *v);
                if prev.is_some_and(|p| *v < p) {
                    report.violation(format!(
                        "serve {} at {}: {series} went down from {} to {v}",
                        a.serve,
                        a.got,
                        prev.unwrap()
                    ));
                }
            }
        }
        let checks = m.get("rocketmq_sidecar_role_checks_total").copied().unwrap_or(0.0);
        let bound = (a.got.saturating_sub(serve.started)) as f64 / 1_000.0 + 2.0;
        if checks > bound {
            report.violation(format!(
                "serve {} at {}: {checks} role checks in {bound} s at a 1 s interval",
                a.serve, a.got
            ));
        }
        let t = &traffic[side_of(serve.group)];
        for (series, v) in m.iter().filter(|(s, _)| series_name(s) == "rocketmq_producer_offset") {
            report.count("produced offsets checked against the producer's sends", 1);
            let shard = label(series, "broker").unwrap_or("");
            let sent = t.sends.iter().filter(|s| s.1 == shard && s.0 <= a.got).count()
                + t.errors.iter().filter(|e| **e <= a.got).count()
                + 1;
            if *v > sent as f64 {
                report.violation(format!(
                    "serve {} at {}: {series} = {v}, but only {sent} sends were tried",
                    a.serve, a.got
                ));
            }
        }
    }
}

fn liveness(facts: &Facts, answers: &[Answer], agreement: &[(usize, String, String)], report: &mut Report) {
    for (i, s) in facts.serves.iter().enumerate() {
        if s.log.contains("panicked") {
            report.violation(format!("serve {i} panicked (see its log)"));
        }
    }
    for a in answers {
        let took = a.got - a.sent;
        let limit = time_limit(&a.what);
        report.count("answers timed", 1);
        if a.code == 0 || took > limit {
            report.violation(format!(
                "serve {} {} at {}: code {} after {took} ms (limit {limit} ms)",
                a.serve, a.what, a.sent, a.code
            ));
        }
        if a.what == "/live" && a.code != 200 {
            report.violation(format!("serve {} /live at {}: {}", a.serve, a.sent, a.code));
        }
    }
    tasks_keep_running(facts, answers, report);
    for (i, said, truth) in agreement {
        report.count("sidecars compared with their broker after the faults", 1);
        if said != truth {
            report.violation(format!("serve {i} still says {said:?} after the faults stopped; its broker is {truth}"));
        }
    }
}

/// A progress marker per serve answer: role checks (`/status` checks), the reloader's last check,
/// the metrics refresh (last success time + failed refreshes).
fn tasks_keep_running(facts: &Facts, answers: &[Answer], report: &mut Report) {
    for i in 0..facts.serves.len() {
        let start = facts.serves[i].started;
        let mut role: Vec<(u64, u64)> = Vec::new();
        let mut metrics: Vec<(u64, String)> = Vec::new();
        for a in answers.iter().filter(|a| a.serve == i && a.code == 200) {
            match &a.body {
                Body::Status(st) if a.what == "/status" => {
                    role.push((a.got, st["checks"].as_u64().unwrap_or(0)));
                    let last = st["reload"]["lastCheckMs"].as_u64().unwrap_or(0);
                    report.count("reloader progress readings", 1);
                    if a.got > start + 40_000 && a.got > last + 35_000 {
                        report.violation(format!(
                            "serve {i} at {}: the reloader's last check was {} ms before",
                            a.got,
                            a.got - last
                        ));
                    }
                }
                Body::Metrics(m) => {
                    let ok =
                        m.get("rocketmq_sidecar_broker_metrics_last_success_timestamp_seconds").copied().unwrap_or(0.0);
                    let errs: f64 = m
                        .iter()
                        .filter(|(k, _)| k.starts_with("rocketmq_sidecar_broker_metrics_refresh_errors_total"))
                        .map(|(_, v)| v)
                        .sum();
                    metrics.push((a.got, format!("{ok}/{errs}")));
                }
                _ => {}
            }
        }
        role.sort();
        metrics.sort();
        stalled(&role, 15_000, start, i, "role checks", report);
        stalled(&metrics, 45_000, start, i, "metrics refreshes", report);
    }
}

/// Flags a reading equal to the one `window` earlier (the task made no progress for that long).
fn stalled<T: PartialEq + std::fmt::Debug>(
    readings: &[(u64, T)],
    window: u64,
    start: u64,
    serve: usize,
    what: &str,
    report: &mut Report,
) {
    for (j, (at, v)) in readings.iter().enumerate() {
        if *at < start + window + 10_000 {
            continue;
        }
        report.count("task progress readings", 1);
        let earlier = readings[..j].iter().rev().find(|(t, _)| *t + window <= *at);
        if let Some((t0, v0)) = earlier {
            if v0 == v {
                report.violation(format!("serve {serve}: {what} stuck at {v:?} from {t0} to {at}"));
            }
        }
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Least-squares slope of `points` (hours, value) per hour.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let cov: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if var == 0.0 {
        0.0
    } else {
        cov / var
    }
}

fn footprints(facts: &Facts, history: &History, report: &mut Report) {
    let all = history.footprints.lock().unwrap().clone();
    for i in 0..facts.serves.len() {
        let f: Vec<_> = all.iter().filter(|f| f.serve == i && f.rss_kib > 0).collect();
        if f.len() < 8 {
            continue;
        }
        let q = f.len() / 4;
        let (second, last) = (&f[q..2 * q], &f[3 * q..]);
        let rss_second = median(second.iter().map(|x| x.rss_kib).collect());
        let rss_last = median(last.iter().map(|x| x.rss_kib).collect());
        let fd_second = second.iter().map(|x| x.fds).max().unwrap_or(0);
        let fd_last = last.iter().map(|x| x.fds).max().unwrap_or(0);
        let t0 = f[q].at;
        let hours = |at: u64| (at - t0) as f64 / 3_600_000.0;
        let rss_slope = slope(&f[q..].iter().map(|x| (hours(x.at), x.rss_kib as f64 / 1024.0)).collect::<Vec<_>>());
        let fd_slope = slope(&f[q..].iter().map(|x| (hours(x.at), x.fds as f64)).collect::<Vec<_>>());
        report.count("footprint samples", f.len() as u64);
        report.footprints.push(format!(
            "serve {i} ({}): RSS {:.1} -> {:.1} MiB (slope {rss_slope:+.2} MiB/h), open files {fd_second} -> {fd_last} (slope {fd_slope:+.1}/h)",
            facts.brokers[i].key,
            rss_second as f64 / 1024.0,
            rss_last as f64 / 1024.0
        ));
        if rss_last > rss_second * 3 / 2 + 4 * 1024 {
            report.violation(format!("serve {i}: RSS grew from {rss_second} KiB to {rss_last} KiB over the run"));
        }
        if fd_last > fd_second + 16 {
            report.violation(format!("serve {i}: open files grew from {fd_second} to {fd_last} over the run"));
        }
    }
}

impl Report {
    /// The figures README and CI print.
    pub fn figures(&self, what: &str, took: Duration, history: &History) -> String {
        let mut out = format!("chaos campaign: {what}, {:.1} min\n", took.as_secs_f64() / 60.0);
        let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
        for f in history.faults.lock().unwrap().iter() {
            *kinds.entry(f.kind).or_default() += 1;
        }
        out += &format!("faults injected: {}\n", kinds.values().sum::<u64>());
        for (k, n) in &kinds {
            out += &format!("  {n:6}  {k}\n");
        }
        let mut asked: BTreeMap<String, u64> = BTreeMap::new();
        for a in history.answers.lock().unwrap().iter() {
            *asked
                .entry(if a.what.starts_with("/replica?") { "/replica?lag".to_string() } else { a.what.clone() })
                .or_default() += 1;
        }
        out += &format!("answers recorded: {}\n", asked.values().sum::<u64>());
        for (k, n) in &asked {
            out += &format!("  {n:6}  {k}\n");
        }
        out += "checked:\n";
        for (k, n) in &self.checked {
            out += &format!("  {n:8}  {k}\n");
        }
        out += &format!("violations: {}\n", self.violations.len());
        for v in self.violations.iter().take(50) {
            out += &format!("  {v}\n");
        }
        out += &format!("the broker's own (not the sidecar's): {}\n", self.broker_own.len());
        for v in &self.broker_own {
            out += &format!("  {v}\n");
        }
        out += "serve footprints (second quarter -> last quarter):\n";
        for f in &self.footprints {
            out += &format!("  {f}\n");
        }
        out
    }
}

/// The rules on hand-made histories: each flags what it must and passes what it must not.
#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: u64, up: bool) -> ProcEvent {
        ProcEvent { at, key: "b".into(), up }
    }

    fn reading(at: u64, role: &'static str) -> Truth {
        Truth { at, broker: 0, role: Some(role), values: BTreeMap::new() }
    }

    #[test]
    fn down_throughout_needs_the_whole_window() {
        let procs = [ev(1_000, false), ev(9_000, true)];
        assert!(down_throughout(&procs, "b", 2_000, 8_000));
        assert!(!down_throughout(&procs, "b", 500, 8_000), "up at the window's start");
        assert!(!down_throughout(&procs, "b", 2_000, 9_500), "back up inside the window");
        assert!(!down_throughout(&procs, "other", 2_000, 8_000));
    }

    #[test]
    fn a_slave_reading_after_the_question_is_needed() {
        let every_second: Vec<Truth> = (0..10).map(|s| reading(s * 1_000, "slave")).collect();
        assert!(slave_throughout(&every_second, 0, 1_000, 6_000));
        // The last reading before the question said slave, none after it: it may have just changed.
        assert!(!slave_throughout(&every_second[..7], 0, 1_000, 6_500));
        let mut changed = every_second;
        changed[7] = reading(7_000, "master");
        assert!(!slave_throughout(&changed, 0, 1_000, 6_000));
        let gappy = [reading(1_000, "slave"), reading(4_000, "slave"), reading(7_000, "slave")];
        assert!(!slave_throughout(&gappy, 0, 1_000, 6_000), "a 3 s gap proves nothing");
    }

    #[test]
    fn a_master_claim_lasts_one_second_past_its_answer() {
        let line = [(1_000, false), (2_000, true), (2_500, false), (4_000, true)];
        assert!(!claims_at(&line, 1_500));
        assert!(claims_at(&line, 2_100));
        assert!(!claims_at(&line, 2_600));
        assert!(claims_at(&line, 5_000));
        assert!(!claims_at(&line, 5_001), "an answer more than 1 s old claims nothing");
    }

    #[test]
    fn a_task_that_stops_is_flagged_and_one_that_moves_is_not() {
        let moving: Vec<(u64, u64)> = (0..60).map(|s| (s * 1_000, s)).collect();
        let mut report = Report::default();
        stalled(&moving, 15_000, 0, 0, "role checks", &mut report);
        assert!(report.violations.is_empty());
        let stuck: Vec<(u64, u64)> = (0..60).map(|s| (s * 1_000, s.min(30))).collect();
        stalled(&stuck, 15_000, 0, 0, "role checks", &mut report);
        assert!(!report.violations.is_empty());
    }

    #[test]
    fn slopes_are_per_hour() {
        let flat = [(0.0, 5.0), (0.5, 5.0), (1.0, 5.0)];
        assert_eq!(slope(&flat), 0.0);
        let growing = [(0.0, 1.0), (0.5, 2.0), (1.0, 3.0)];
        assert!((slope(&growing) - 2.0).abs() < 1e-9);
    }
}
