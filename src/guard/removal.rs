//! The last step before a shard is removed: KubeBlocks' `preTerminate` action. KubeBlocks 1.0.2
//! deletes a removed shard's Component and runs only the ComponentDefinition's `preTerminate`
//! before it (`controllers/apps/component/transformer_component_pre_terminate.go`); while the action
//! fails, the deletion waits and the controller calls it again. So each call here is one short step:
//!
//! 1. not a shard scale-in (`KB_CLUSTER_COMPONENT_IS_SCALING_IN` is not `true`: the whole cluster is
//!    being deleted, which `terminationPolicy` governs): nothing to do, the broker is not touched;
//! 2. stop new writes to the shard (its write permission goes; nobody restores it, the shard is
//!    leaving), so producers move to the other shards at their next route refresh;
//! 3. one check: removable only when no consumer has anything left here and no message was stored
//!    for the quiet window ([`super::writes`]). Anything else, "cannot tell" included, blocks.
//!
//! Progress comes from KubeBlocks calling again, never from one long wait inside an action.

use std::sync::Arc;

use crate::admin::{is_master, AdminError, BrokerAdmin, NamesrvAdmin};

use super::backlog::{compute, Backlog, Kind, Policy, Verdict};
use super::drain::{set_permission, READ_ONLY};
use super::error::GuardError;
use super::read::permits_writes;
use super::writes::format_ms;

/// KubeBlocks' annotation that skips the action for one Component (`pkg/constant/annotations.go`).
pub const SKIP_ANNOTATION: &str = "apps.kubeblocks.io/skip-pre-terminate";

/// How many blocking rows the one-line reason names.
const ROWS_NAMED: usize = 3;

/// KubeBlocks' `KB_CLUSTER_COMPONENT_IS_SCALING_IN`: only `true` means a shard is being removed;
/// the deletion transformer reads the annotation the same way.
pub fn is_scaling_in(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim() == "true")
}

/// Steps 2 and 3 of the module doc on `master`, for a shard KubeBlocks is removing (step 1, whether
/// it is one, is [`is_scaling_in`], decided before anything is asked).
pub async fn stop_writes_and_check(master: Arc<BrokerAdmin>, policy: &Policy) -> Result<Backlog, GuardError> {
    let broker = master.addr().to_string();
    let config = master.config().await.map_err(|source| GuardError::Broker { broker: broker.clone(), source })?;
    if !is_master(&config) {
        return Err(GuardError::not_master(broker, &config));
    }
    if permits_writes(&config) {
        set_permission(&master, READ_ONLY).await.map_err(|source| GuardError::Broker { broker, source })?;
        tracing::info!(broker = %master.addr(), "shard scale-in: write permission taken away (brokerPermission=4)");
    }
    compute(master, policy).await
}

/// The shard's master: `local` when it is one; else (a slave whose pod still carries the master
/// label, or a failover in progress) the master the name servers register for its shard. Never a
/// slave: its copies say nothing about what consumers still need from the master.
pub async fn shard_master(
    local: Arc<BrokerAdmin>,
    namesrv: Option<&NamesrvAdmin>,
    connect: impl Fn(&str) -> BrokerAdmin,
) -> Result<Arc<BrokerAdmin>, GuardError> {
    let broker = local.addr().to_string();
    let config = local.config().await.map_err(|source| GuardError::Broker { broker: broker.clone(), source })?;
    if is_master(&config) {
        return Ok(local);
    }
    let shard = config.get("brokerName").cloned().unwrap_or_default();
    let no_master = |reason: String| GuardError::NoMaster { shard: shard.clone(), reason };
    let Some(namesrv) = namesrv else {
        return Err(no_master(format!("{broker} is a slave and no name server is known to find its master")));
    };
    let info = namesrv.cluster_info().await.map_err(|e: AdminError| no_master(e.to_string()))?;
    let addr = info.master_of(&shard).map_err(|why| no_master(why.into()))?;
    tracing::info!(slave = %broker, master = %addr, "preTerminate ran on a slave; checking the shard's master");
    Ok(Arc::new(connect(addr)))
}

/// The outcome in one line, for KubeBlocks' Warning event (kbagent passes on only the action's
/// stderr, or an HTTP action's body): what is certain first (messages behind committed offsets),
/// then what cannot be told, then the writes, then what the operator can do.
pub fn summary(backlog: &Backlog, component: Option<&str>) -> String {
    let mut parts = Vec::new();
    if backlog.blocking_messages > 0 {
        parts.push(format!("{} unconsumed message(s): {}", backlog.blocking_messages, blocking_rows(backlog)));
    }
    for reason in &backlog.cannot_tell {
        parts.push(format!("cannot tell: {reason}"));
    }
    parts.push(writes_part(backlog));
    let head = match backlog.verdict {
        Verdict::Safe => format!("shard {} may be removed", backlog.broker),
        _ => format!("shard {} not removed yet, or messages would be lost", backlog.broker),
    };
    let mut line = format!("{head}: {}", parts.join("; "));
    if backlog.verdict != Verdict::Safe {
        line.push_str(". ");
        line.push_str(&what_to_do(component));
    }
    line
}

/// The line when the check itself failed (broker down, no master): nothing is known, so the
/// removal waits; says how to release it.
pub fn failure_summary(error: &GuardError, component: Option<&str>) -> String {
    format!("shard not removed yet: {error}. {}", what_to_do(component))
}

fn what_to_do(component: Option<&str>) -> String {
    let component = component.filter(|c| !c.is_empty()).unwrap_or("<this shard's Component>");
    format!(
        "KubeBlocks calls this check again: wait, or let the consumers catch up; to remove the shard anyway, \
         LOSING these messages: kubectl annotate component {component} {SKIP_ANNOTATION}=true"
    )
}

fn writes_part(b: &Backlog) -> String {
    let w = &b.writes;
    let state = match (w.writable, w.read_only_since_ms) {
        (true, _) => "writes NOT stopped (the broker is writable)".to_string(),
        (false, Some(since)) => format!("writes stopped (read-only since {})", format_ms(since)),
        (false, None) => "writes stopped (read-only)".to_string(),
    };
    match &w.still_writing {
        Some(why) => format!("{state}, but {why}"),
        None => state,
    }
}

/// The first few blocking rows: kind, group, topic, messages (also `scale-in check`'s stderr line).
pub fn blocking_rows(b: &Backlog) -> String {
    let blocking: Vec<_> = b.rows.iter().filter(|r| r.blocks).collect();
    let mut named: Vec<String> = blocking
        .iter()
        .take(ROWS_NAMED)
        .map(|r| {
            let who = match (&r.group, r.kind) {
                (Some(g), _) => format!("{} {g}", kind_word(r.kind)),
                (None, kind) => kind_word(kind).to_string(),
            };
            format!("{who} on {} ({})", r.topic, r.messages)
        })
        .collect();
    if blocking.len() > ROWS_NAMED {
        named.push(format!("and {} more row(s)", blocking.len() - ROWS_NAMED));
    }
    named.join(", ")
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Consumer => "consumer",
        Kind::NoOffsetYet => "new consumer",
        Kind::Broadcast => "broadcast consumer",
        Kind::Retry => "retry of",
        Kind::Delayed => "delayed messages",
        Kind::TimerWheel => "timer wheel",
        Kind::HalfTransaction => "half transactions",
        Kind::DeadLetter => "dead letters of",
        Kind::Unconsumed => "no consumer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::{Row, Writes};

    fn backlog(rows: Vec<Row>, cannot_tell: Vec<String>, writable: bool, still: Option<&str>) -> Backlog {
        let blocking_messages = rows.iter().filter(|r| r.blocks).map(|r| r.messages).sum();
        let verdict = if !cannot_tell.is_empty() {
            Verdict::CannotTell
        } else if blocking_messages > 0 || still.is_some() {
            Verdict::Unsafe
        } else {
            Verdict::Safe
        };
        Backlog {
            schema_version: 1,
            broker: "10.0.0.1:10911".into(),
            broker_version: None,
            verdict,
            safe: verdict == Verdict::Safe,
            blocking_messages,
            rows,
            cannot_tell,
            writes: Writes {
                writable,
                last_write_ms: None,
                read_only_since_ms: (!writable).then_some(1_700_000_000_000),
                quiet_window_ms: 35_000,
                still_writing: still.map(str::to_string),
            },
            notes: vec![],
            groups: 1,
            online_groups: 0,
            groups_not_asked: 0,
            topics: 1,
            counted_every_stored_message: false,
        }
    }

    fn row(group: &str, topic: &str, messages: u64) -> Row {
        Row {
            group: Some(group.into()),
            client: None,
            topic: topic.into(),
            kind: Kind::Consumer,
            queues_behind: 1,
            messages,
            blocks: true,
        }
    }

    #[test]
    fn the_certain_backlog_comes_before_what_cannot_be_told_and_the_way_out_is_named() {
        let b = backlog(
            vec![row("g1", "T", 6)],
            vec!["offline group(s) with no committed offsets here: b".into()],
            false,
            None,
        );
        let line = summary(&b, Some("demo-broker-abc"));
        let certain = line.find("6 unconsumed message(s): consumer g1 on T (6)").expect(&line);
        let unknown = line.find("cannot tell: offline group(s)").expect(&line);
        assert!(certain < unknown, "{line}");
        assert!(line.contains("writes stopped (read-only since"), "{line}");
        assert!(line.contains("kubectl annotate component demo-broker-abc apps.kubeblocks.io/skip-pre-terminate=true"));
        assert!(!line.contains('\n'), "one line for the Warning event: {line}");
    }

    #[test]
    fn many_rows_are_cut_and_a_quiet_shard_says_it_may_go() {
        let rows = (0..5).map(|i| row(&format!("g{i}"), "T", 1)).collect();
        let line = summary(&backlog(rows, vec![], false, None), None);
        assert!(line.contains("and 2 more row(s)") && line.contains("<this shard's Component>"), "{line}");
        let line = summary(&backlog(vec![], vec![], false, None), None);
        assert!(line.starts_with("shard 10.0.0.1:10911 may be removed: writes stopped"), "{line}");
        let line = summary(&backlog(vec![], vec![], false, Some("still receiving writes: x")), None);
        assert!(line.contains("writes stopped (read-only since") && line.contains("but still receiving writes"));
    }

    #[test]
    fn only_true_means_a_shard_scale_in() {
        assert!(is_scaling_in(Some("true")));
        for v in [None, Some(""), Some("false"), Some("TRUE1")] {
            assert!(!is_scaling_in(v), "{v:?}");
        }
    }
}
