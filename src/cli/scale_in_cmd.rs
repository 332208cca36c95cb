use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::admin::{BrokerAdmin, NamesrvAdmin};
use crate::guard::{compute, drain, Backlog, DrainOutcome, DrainSettings, GuardError, Policy};

use super::args::{parse_duration, ConnectArgs};
use super::error::CliError;

pub const ABOUT: &str = "Scale-in guard: is it safe to remove this shard (no unconsumed messages)?";

#[derive(Subcommand, Debug)]
pub enum ScaleInCommand {
    /// Exit 0 if no consumer group has unconsumed messages on the shard, 1 (with a table) if some
    /// do, 2 if it cannot be told (broker or name server unreachable, refused, timed out). Never
    /// "safe" by default. For the KubeBlocks shardRemove action.
    Check(CheckArgs),
    /// Make the shard read-only (brokerPermission=4, pushed to every name server) so producers
    /// route elsewhere, then wait until the backlog is 0, printing progress. On timeout, Ctrl-C
    /// or error, the previous permission is restored. Exit 0 drained (the shard stays read-only),
    /// 1 timed out or interrupted (permission restored), 2 could not start or restore (says how).
    Drain(DrainArgs),
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
    #[arg(long)]
    pub strict: bool,
    /// Do not count delayed messages that are not delivered yet (counted by default)
    #[arg(long)]
    pub ignore_delayed: bool,
    /// Do not count uncommitted transaction half messages (counted by default)
    #[arg(long)]
    pub ignore_half: bool,
    /// Requests to the broker in flight at once
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
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
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DrainArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Give up (and restore write permission) after this long
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// How often the backlog is re-checked and progress printed
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub every: Duration,
}

pub async fn run(cmd: ScaleInCommand) -> Result<(), CliError> {
    match cmd {
        ScaleInCommand::Check(args) => check(args).await,
        ScaleInCommand::Drain(args) => run_drain(args).await,
    }
}

impl TargetArgs {
    fn policy(&self) -> Policy {
        Policy {
            count_delayed: !self.ignore_delayed,
            count_half: !self.ignore_half,
            strict: self.strict,
            concurrency: self.concurrency,
        }
    }

    /// The broker to check: --shard's master from the name servers, else --broker.
    async fn admin(&self) -> Result<Arc<BrokerAdmin>, CliError> {
        let opts = self.connect.client_options()?;
        let addr = match &self.shard {
            None => self.connect.broker_addr(),
            Some(shard) => {
                let namesrv = NamesrvAdmin::new(&self.connect.namesrv_addrs()?, opts.clone())?;
                let no_master = |reason: String| GuardError::NoMaster { shard: shard.clone(), reason };
                let info = namesrv.cluster_info().await.map_err(|e| no_master(e.to_string()))?;
                let data =
                    info.brokers.get(shard).ok_or_else(|| no_master("not registered with the name servers".into()))?;
                data.addrs.get(&0).cloned().ok_or_else(|| no_master("no master (brokerId 0) registered".into()))?
            }
        };
        Ok(Arc::new(BrokerAdmin::new(addr, opts)))
    }
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
    if backlog.safe {
        Ok(())
    } else {
        Err(CliError::Unsafe(format!(
            "{} unconsumed message(s) on {}: not safe to remove this shard",
            backlog.blocking_messages, backlog.broker
        )))
    }
}

pub fn print_table(out: &mut impl Write, b: &Backlog) -> std::io::Result<()> {
    if !b.rows.is_empty() {
        writeln!(out, "{:<32} {:<32} {:<16} {:>6} {:>10}  blocks", "group", "topic", "kind", "queues", "messages")?;
        for r in &b.rows {
            let kind =
                serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let group = r.group.as_deref().unwrap_or("-");
            let blocks = if r.blocks { "yes" } else { "no" };
            writeln!(
                out,
                "{group:<32} {:<32} {kind:<16} {:>6} {:>10}  {blocks}",
                r.topic, r.queues_behind, r.messages
            )?;
        }
    }
    let verdict = if b.safe { "safe to remove" } else { "NOT safe to remove" };
    writeln!(
        out,
        "total: {} unconsumed message(s) block the scale-in of {} ({} groups, {} topics checked): {verdict}",
        b.blocking_messages, b.broker, b.groups, b.topics
    )
}

async fn run_drain(args: DrainArgs) -> Result<(), CliError> {
    let admin = args.target.admin().await?;
    let settings =
        DrainSettings { policy: args.target.policy(), timeout: args.drain_timeout, progress_every: args.every };
    let broker = admin.addr().to_string();
    println!(
        "draining {broker}: write permission off (brokerPermission=4), waiting for consumers (timeout {:?})",
        args.drain_timeout
    );
    let mut last: Option<(u64, Duration)> = None;
    let progress = |b: &Backlog, at: Duration| {
        let rate = last.and_then(|(n, t)| {
            let dt = (at - t).as_secs_f64();
            (dt > 0.0).then(|| (n as f64 - b.blocking_messages as f64) / dt)
        });
        let eta = rate.filter(|r| *r > 0.0).map(|r| format!("{:.0}s", b.blocking_messages as f64 / r));
        println!(
            "[{:>5.1}s] remaining {} message(s), rate {}, ETA {}",
            at.as_secs_f64(),
            b.blocking_messages,
            rate.map_or("-".into(), |r| format!("{r:.1} msg/s")),
            eta.unwrap_or_else(|| "-".into())
        );
        last = Some((b.blocking_messages, at));
    };
    let outcome = drain(admin, &settings, progress, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    match outcome {
        DrainOutcome::Drained { previous_permission, took } => {
            println!(
                "drained in {:.1}s: no unconsumed messages left. The shard stays read-only; to undo: \
                 rocketmq-sidecar reconfigure --broker {broker} brokerPermission {previous_permission}",
                took.as_secs_f64()
            );
            Ok(())
        }
        DrainOutcome::Aborted { reason, remaining, restored: Ok(perm) } => Err(CliError::Unsafe(format!(
            "drain {reason} with {} message(s) left; write permission restored (brokerPermission={perm})",
            remaining.map_or("an unknown number of".into(), |n| n.to_string())
        ))),
        DrainOutcome::Aborted { reason, restored: Err(how), .. } => {
            Err(CliError::Usage(format!("drain {reason}; RESTORING WRITE PERMISSION FAILED: {how}")))
        }
    }
}
