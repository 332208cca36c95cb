//! `rocketmq-sidecar scale-in check | drain`: the shardRemove guard and the graceful drain,
//! with the table on stdout and a few lines of reason on stderr.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::admin::{BrokerAdmin, NamesrvAdmin};
use crate::guard::{
    blocking_rows, compute, drain, failure_summary, format_ms, is_scaling_in, shard_master, stop_writes_and_check,
    summary, Backlog, DrainOutcome, DrainSettings, GuardError, Kind, Policy, Progress, QueueEnds, Verdict,
};

use super::args::{parse_duration, ConnectArgs};
use super::error::CliError;

pub const ABOUT: &str = "Scale-in guard: is it safe to remove this shard (no unconsumed messages)?";

#[derive(Subcommand, Debug)]
pub enum ScaleInCommand {
    /// Exit 0 if no consumer has unconsumed messages on the shard and no message was stored
    /// for the quiet window; 1 (with a table) if some are unconsumed or writes have not stopped;
    /// 2 if it cannot be told (broker or name server unreachable, refused, timed out; a
    /// BROADCASTING client that does not report its offsets; an offline group with no offsets
    /// here while messages are stored). Never "safe" by default. For the shardRemove action.
    ///
    /// Counted: committed offsets of every group; online CLUSTERING consumers' subscriptions with
    /// no offset yet (from each queue's minimum: a new client saves its first offsets ~10 s after
    /// it starts); each online BROADCASTING client's own offsets (asked through the broker);
    /// retry, pending delayed and uncommitted half messages. Not blocking unless --strict:
    /// dead-letter topics and topics no known group consumes.
    Check(CheckArgs),
    /// Make the shard read-only (brokerPermission=4, pushed to every name server) so producers
    /// route elsewhere, then wait until the backlog is 0 AND no message was stored for the quiet
    /// window (4.9.6 keeps accepting sends from producers with a cached route until their next
    /// route refresh, 30 s by default), printing progress. On timeout, Ctrl-C or error, the
    /// previous permission is restored. Exit 0 drained (the shard stays read-only), 1 timed out
    /// or interrupted (permission restored), 2 could not start or restore (says how).
    Drain(DrainArgs),
    /// KubeBlocks' preTerminate action for a shard scale-in: KubeBlocks 1.0.x deletes a removed
    /// shard's Component and runs only this before it; a non-zero exit holds the deletion, and
    /// KubeBlocks calls again. Without KB_CLUSTER_COMPONENT_IS_SCALING_IN=true (the whole cluster is
    /// being deleted; its terminationPolicy governs the data): exit 0, the broker untouched.
    /// Otherwise, on the shard's master (found through the name servers when this broker is a
    /// slave): take the write permission away (brokerPermission=4, never restored: the shard is
    /// leaving), then one check. Exit 0 only with no unconsumed message and no write for the quiet
    /// window; 1 unconsumed messages or writes not stopped yet; 2 cannot tell (broker down, no
    /// master, an offline group with no offsets). The reason is one line on stderr, which
    /// KubeBlocks shows in the Component's Warning event, with the way to skip the check.
    PreTerminate(PreTerminateArgs),
}

#[derive(Args, Debug)]
pub struct TargetArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The shard (brokerName) to check; its master is found from the name servers.
    /// Without it, --broker is checked and must be a master.
    #[arg(long, env = "ROCKETMQ_SIDECAR_SHARD", value_name = "BROKER_NAME")]
    pub shard: Option<String>,
    /// Also block on dead-letter (%DLQ%) topics and on topics no group consumes
    #[arg(long, env = "ROCKETMQ_SIDECAR_STRICT")]
    pub strict: bool,
    /// Do not count delayed messages that are not delivered yet (counted by default)
    #[arg(long, env = "ROCKETMQ_SIDECAR_IGNORE_DELAYED")]
    pub ignore_delayed: bool,
    /// Do not count uncommitted transaction half messages (counted by default)
    #[arg(long, env = "ROCKETMQ_SIDECAR_IGNORE_HALF")]
    pub ignore_half: bool,
    /// Offline groups with no offsets on this broker (BROADCASTING groups keep their progress on
    /// their clients) do not make the answer "cannot tell": accept that such a group, if it
    /// exists and comes back, loses what it had not consumed
    #[arg(long, env = "ROCKETMQ_SIDECAR_ACCEPT_OFFLINE_BROADCAST_LOSS")]
    pub accept_offline_broadcast_loss: bool,
    /// Writes must have stopped this long (no message stored; on a read-only broker, also
    /// counted from when it went read-only) before the shard counts as empty. The default is the
    /// producers' route refresh (pollNameServerInterval, 30 s) plus a margin; 0 turns it off
    #[arg(long, env = "ROCKETMQ_SIDECAR_QUIET_WINDOW", default_value = "35s", value_parser = parse_window)]
    pub quiet_window: Duration,
    /// Requests to the broker in flight at once
    #[arg(long, env = "ROCKETMQ_SIDECAR_CONCURRENCY", default_value_t = crate::admin::IN_FLIGHT)]
    pub concurrency: usize,
    /// How the queues' ends are read: `auto` asks one GET_BROKER_CONSUME_STATS instead of one
    /// GET_TOPIC_STATS_INFO per topic when the broker has few groups for its topics (it scans its
    /// offset table once per group to answer); `per-topic` never asks it; `batch` asks it
    /// whenever its answer fits half a frame. The verdict is the same either way
    #[arg(long, env = "ROCKETMQ_SIDECAR_QUEUE_ENDS", value_enum, default_value = "auto")]
    pub queue_ends: QueueEndsArg,
}

/// `--queue-ends` ([`QueueEnds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueEndsArg {
    Auto,
    PerTopic,
    Batch,
}

impl From<QueueEndsArg> for QueueEnds {
    fn from(arg: QueueEndsArg) -> QueueEnds {
        match arg {
            QueueEndsArg::Auto => QueueEnds::Auto,
            QueueEndsArg::PerTopic => QueueEnds::PerTopic,
            QueueEndsArg::Batch => QueueEnds::Batch,
        }
    }
}

/// A duration that may be 0 (rule off).
fn parse_window(s: &str) -> Result<Duration, String> {
    match s.trim() {
        "0" | "0s" | "0ms" => Ok(Duration::ZERO),
        other => parse_duration(other),
    }
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// A slave (brokerId > 0) as target is safe to remove, exit 0: it holds only copies of its
    /// master's messages (for the memberLeave action on a replica scale-in). Without this flag a
    /// slave target is "cannot tell" (exit 2)
    #[arg(long, env = "ROCKETMQ_SIDECAR_ALLOW_SLAVE")]
    pub allow_slave: bool,
    /// Print JSON (verdict, table, totals)
    #[arg(long, env = "ROCKETMQ_SIDECAR_JSON")]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DrainArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Give up (and restore write permission) after this long
    #[arg(long, env = "ROCKETMQ_SIDECAR_DRAIN_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// How often the backlog is re-checked and progress printed
    #[arg(long, alias = "every", env = "ROCKETMQ_SIDECAR_DRAIN_EVERY", default_value = "2s", value_parser = parse_duration)]
    pub drain_every: Duration,
}

#[derive(Args, Debug)]
pub struct PreTerminateArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Whether KubeBlocks is removing this shard: it sets KB_CLUSTER_COMPONENT_IS_SCALING_IN=true
    /// only for a shard scale-in, never for a whole-cluster deletion [fallback: that variable]
    #[arg(long, env = "ROCKETMQ_SIDECAR_SCALING_IN", value_name = "true|false")]
    pub scaling_in: Option<String>,
    /// The shard's KubeBlocks Component, named in the hint on how to skip the check
    /// [default: $MY_CLUSTER_COMP_NAME, a component var of the shipped ComponentDefinitions]
    #[arg(long, env = "ROCKETMQ_SIDECAR_COMPONENT", value_name = "NAME")]
    pub component: Option<String>,
}

pub async fn run(cmd: ScaleInCommand) -> Result<(), CliError> {
    match cmd {
        ScaleInCommand::Check(args) => check(args).await,
        ScaleInCommand::Drain(args) => run_drain(args).await,
        ScaleInCommand::PreTerminate(args) => pre_terminate(args).await,
    }
}

impl TargetArgs {
    fn policy(&self) -> Policy {
        Policy {
            count_delayed: !self.ignore_delayed,
            count_half: !self.ignore_half,
            strict: self.strict,
            accept_offline_broadcast_loss: self.accept_offline_broadcast_loss,
            quiet_window: self.quiet_window,
            concurrency: self.concurrency,
            queue_ends: self.queue_ends.into(),
        }
    }

    /// The broker to check: --shard's master from the name servers, else --broker.
    async fn admin(&self) -> Result<Arc<BrokerAdmin>, CliError> {
        let opts = self.connect.client_options()?;
        let addr = match &self.shard {
            None => self.connect.broker_addr(),
            Some(shard) => {
                let no_master = |reason: String| GuardError::NoMaster { shard: shard.clone(), reason };
                // Without a name server the shard's master cannot be found: "cannot tell", exit 2.
                let addrs = self.connect.namesrv_addrs().map_err(|e| no_master(e.to_string()))?;
                let namesrv = NamesrvAdmin::new(&addrs, opts.clone()).map_err(|e| no_master(e.to_string()))?;
                let info = namesrv.cluster_info().await.map_err(|e| no_master(e.to_string()))?;
                info.master_of(shard).map_err(|why| no_master(why.into()))?.to_string()
            }
        };
        Ok(Arc::new(BrokerAdmin::new(addr, opts)))
    }
}

/// One preTerminate step (see [`ScaleInCommand::PreTerminate`]), bounded by 5 request timeouts.
async fn pre_terminate(args: PreTerminateArgs) -> Result<(), CliError> {
    let component = args.component.clone().or_else(|| std::env::var("MY_CLUSTER_COMP_NAME").ok());
    if !is_scaling_in(args.scaling_in.as_deref()) {
        println!(
            "not a shard scale-in (KB_CLUSTER_COMPONENT_IS_SCALING_IN={}): the whole cluster is being deleted and its \
             terminationPolicy decides what happens to the data; nothing checked, the broker untouched",
            args.scaling_in.as_deref().unwrap_or("<unset>")
        );
        return Ok(());
    }
    let limit = args.target.connect.timeout * 5;
    let step = async {
        let master = pre_terminate_master(&args.target).await?;
        stop_writes_and_check(master, &args.target.policy()).await
    };
    let outcome = tokio::time::timeout(limit, step).await.unwrap_or(Err(GuardError::Timeout(limit)));
    let backlog = match outcome {
        Ok(backlog) => backlog,
        Err(e) => {
            return Err(CliError::Removal { message: failure_summary(&e, component.as_deref()), cannot_tell: true })
        }
    };
    print_table(&mut std::io::stdout().lock(), &backlog)?;
    let message = summary(&backlog, component.as_deref());
    match backlog.verdict {
        Verdict::Safe => {
            println!("{message}");
            Ok(())
        }
        verdict => Err(CliError::Removal { message, cannot_tell: verdict == Verdict::CannotTell }),
    }
}

/// `--shard`'s master from the name servers; else the local broker, or its shard's master when
/// it is a slave.
async fn pre_terminate_master(target: &TargetArgs) -> Result<Arc<BrokerAdmin>, GuardError> {
    if target.shard.is_some() {
        return target.admin().await.map_err(|e| match e {
            CliError::Guard(g) => g,
            other => GuardError::Unknown(other.to_string()),
        });
    }
    let opts = target.connect.client_options().map_err(|e| GuardError::Unknown(e.to_string()))?;
    let local = Arc::new(BrokerAdmin::new(target.connect.broker_addr(), opts.clone()));
    let namesrv = target.connect.namesrv_addrs().ok().and_then(|a| NamesrvAdmin::new(&a, opts.clone()).ok());
    shard_master(local, namesrv.as_ref(), |addr| BrokerAdmin::new(addr, opts.clone())).await
}

async fn check(args: CheckArgs) -> Result<(), CliError> {
    let admin = args.target.admin().await?;
    let backlog = match compute(admin, &args.target.policy()).await {
        Err(GuardError::NotMaster { broker, id }) if args.allow_slave => {
            println!("safe: {broker} is a slave (brokerId={id}); its messages are copies of its master's");
            return Ok(());
        }
        other => other?,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &backlog).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print_table(&mut out, &backlog)?;
    }
    verdict_result(&backlog)
}

/// The exit status of a check, with its reason in a few lines for stderr (KubeBlocks' kbagent
/// passes on only stderr of a failed action): the verdict, the total, the top rows.
fn verdict_result(b: &Backlog) -> Result<(), CliError> {
    match b.verdict {
        Verdict::Safe => Ok(()),
        // What is certain first: the known backlog stays in the line next to what cannot be told.
        Verdict::CannotTell if b.blocking_messages > 0 => Err(CliError::Guard(GuardError::Unknown(format!(
            "{} unconsumed message(s) are certain (top: {}); beyond them: {}",
            b.blocking_messages,
            blocking_rows(b),
            b.cannot_tell.join("; ")
        )))),
        Verdict::CannotTell => Err(CliError::Guard(GuardError::Unknown(b.cannot_tell.join("; ")))),
        Verdict::Unsafe => {
            let mut why = Vec::new();
            if b.blocking_messages > 0 {
                let groups: std::collections::BTreeSet<_> =
                    b.rows.iter().filter(|r| r.blocks).filter_map(|r| r.group.as_deref()).collect();
                why.push(format!(
                    "{} unconsumed message(s) on {} ({} group(s)); top: {}",
                    b.blocking_messages,
                    b.broker,
                    groups.len(),
                    blocking_rows(b)
                ));
            }
            why.extend(b.writes.still_writing.clone());
            Err(CliError::Unsafe(format!("not safe to remove this shard: {}", why.join("; "))))
        }
    }
}

fn kind_name(kind: Kind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The rows, then the verdict line. Buffered: stdout flushes every line, and a 10,000-group table
/// as 10,000 writes took a tenth of a scan's CPU.
pub fn print_table(out: &mut impl Write, b: &Backlog) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    if !b.rows.is_empty() {
        writeln!(out, "{:<32} {:<32} {:<16} {:>6} {:>10}  blocks", "group", "topic", "kind", "queues", "messages")?;
        for r in &b.rows {
            let group = match (&r.group, &r.client) {
                (Some(g), Some(c)) => format!("{g} [{c}]"),
                (Some(g), None) => g.clone(),
                (None, _) => "-".into(),
            };
            let blocks = if r.blocks { "yes" } else { "no" };
            let kind = kind_name(r.kind);
            writeln!(
                out,
                "{group:<32} {:<32} {kind:<16} {:>6} {:>10}  {blocks}",
                r.topic, r.queues_behind, r.messages
            )?;
        }
    }
    for reason in &b.cannot_tell {
        writeln!(out, "cannot tell: {reason}")?;
    }
    if let Some(w) = &b.writes.still_writing {
        writeln!(out, "writes: {w}")?;
    }
    for note in &b.notes {
        writeln!(out, "note: {note}")?;
    }
    let verdict = match b.verdict {
        Verdict::Safe => "safe to remove",
        Verdict::Unsafe => "NOT safe to remove",
        Verdict::CannotTell => "CANNOT TELL (not safe to remove)",
    };
    let online = match b.groups_not_asked {
        0 => format!("{} online", b.online_groups),
        n => format!("{} online of those asked, {n} not asked", b.online_groups),
    };
    writeln!(
        out,
        "total: {} unconsumed message(s) block the scale-in of {} ({} groups, {online}, {} topics checked): {verdict}",
        b.blocking_messages, b.broker, b.groups, b.topics
    )?;
    out.flush()
}

async fn run_drain(args: DrainArgs) -> Result<(), CliError> {
    let admin = args.target.admin().await?;
    let settings =
        DrainSettings { policy: args.target.policy(), timeout: args.drain_timeout, progress_every: args.drain_every };
    let broker = admin.addr().to_string();
    println!(
        "draining {broker}: write permission off (brokerPermission=4); waiting for consumers to catch up and for \
         writes to stop for {:.0}s (timeout {:?})",
        settings.policy.quiet_window.as_secs_f64(),
        args.drain_timeout
    );
    let mut last: Option<(u64, Duration)> = None;
    let progress = |p: &Progress| {
        let b = p.backlog;
        let rate = last.and_then(|(n, t)| {
            let dt = (p.at - t).as_secs_f64();
            (dt > 0.0).then(|| (n as f64 - b.blocking_messages as f64) / dt)
        });
        let eta = rate.filter(|r| *r > 0.0).map(|r| format!("{:.0}s", b.blocking_messages as f64 / r));
        println!(
            "[{:>5.1}s] remaining {} message(s), rate {}, ETA {}; {}",
            p.at.as_secs_f64(),
            b.blocking_messages,
            rate.map_or("-".into(), |r| format!("{r:.1} msg/s")),
            eta.unwrap_or_else(|| "-".into()),
            writes_line(p)
        );
        for reason in &b.cannot_tell {
            println!("         cannot tell: {reason}");
        }
        last = Some((b.blocking_messages, p.at));
    };
    let outcome = drain(admin, &settings, progress, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    match outcome {
        DrainOutcome::Drained { previous_permission, took, read_only_at_ms, last_write_ms } => {
            let last_write = match last_write_ms {
                Some(w) if w >= read_only_at_ms => format!(
                    "the last write landed at {}, {:.1}s after the broker went read-only",
                    format_ms(w),
                    (w - read_only_at_ms) as f64 / 1000.0
                ),
                Some(w) => format!("the last write landed at {}, before the broker went read-only", format_ms(w)),
                None => "the broker holds no message".into(),
            };
            println!(
                "drained in {:.1}s: no unconsumed messages left and no write for {:.0}s ({last_write}). The shard \
                 stays read-only; to undo: rocketmq-sidecar reconfigure --broker {broker} brokerPermission \
                 {previous_permission}",
                took.as_secs_f64(),
                settings.policy.quiet_window.as_secs_f64()
            );
            Ok(())
        }
        DrainOutcome::Aborted { reason, remaining, restored: Ok(perm) } => Err(CliError::Unsafe(format!(
            "drain {reason} with {} message(s) left; write permission restored (brokerPermission={perm})",
            remaining.map_or("an unknown number of".into(), |n| n.to_string())
        ))),
        // The shard's write permission is now unknown: "cannot tell" (exit 2), with the command to fix it.
        DrainOutcome::Aborted { reason, restored: Err(how), .. } => Err(CliError::Guard(GuardError::Unknown(format!(
            "drain {reason}; RESTORING WRITE PERMISSION FAILED: {how}"
        )))),
    }
}

/// "producers still writing: N msg/s" while the commit log grows, else how long it has been quiet.
fn writes_line(p: &Progress) -> String {
    match p.writes_per_sec {
        Some(rate) => format!("producers still writing: {rate:.1} msg/s"),
        None => format!("no write for {:.1}s of {:.0}s", p.quiet_for.as_secs_f64(), p.quiet_window.as_secs_f64()),
    }
}
