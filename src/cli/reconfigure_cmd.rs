//! `rocketmq-sidecar reconfigure`: the reconfigure action (KEY VALUE, --set, --file), validated,
//! sent in one request, read back.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::admin::BrokerAdmin;
use crate::params::Release;
use crate::reload::{apply, read_pairs, Desired, Plan, GUARD_OWNED};

use super::args::ConnectArgs;
use super::error::CliError;

pub const ABOUT: &str = "Apply broker parameters live: validate, one updateBrokerConfig, read back and verify";

pub const LONG_ABOUT: &str = "\
Apply broker parameters to the running broker. Every value is validated first (type, range,
enum, unknown keys); one invalid value rejects the whole change and nothing is sent. Changed
parameters that are safe to change live go to the broker in ONE updateBrokerConfig request and
are verified by reading the config back; if any did not take, the rest are rolled back.
Parameters that must not change on a running broker (static in KubeBlocks, or hazardous live,
e.g. flushDiskType, brokerRole, listenPort, mappedFileSizeCommitLog) are never sent: they are
reported as \"restart required\". Unchanged values are not sent at all, so re-running is safe.

Drop-in for the addon's reconfigure action, which passes one parameter as two arguments:
  rocketmq-sidecar reconfigure maxMessageSize 5242880
Several at once: KEY VALUE pairs, --set KEY=VALUE (repeatable), or --file broker.conf.

Exit codes: 0 applied and verified (or nothing to change); 1 the broker failed or refused, or a
value did not take (nothing is left half-applied); 2 invalid input, nothing sent; 3 valid, but
some values need a broker restart (the live-safe ones were applied; see --restart-ok).";

#[derive(Args, Debug)]
pub struct ReconfigureArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// KEY VALUE pairs (the addon's reconfigure action passes one pair)
    #[arg(value_name = "KEY VALUE")]
    pub pairs: Vec<String>,
    /// KEY=VALUE (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A broker.conf-style properties file with the desired values
    #[arg(long, env = "ROCKETMQ_SIDECAR_FILE", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Show what would change; send nothing
    #[arg(long, env = "ROCKETMQ_SIDECAR_DRY_RUN")]
    pub dry_run: bool,
    /// Print the result as JSON
    #[arg(long, env = "ROCKETMQ_SIDECAR_JSON")]
    pub json: bool,
    /// Exit 0 instead of 3 when some values need a restart (they are still reported)
    #[arg(long, env = "ROCKETMQ_SIDECAR_RESTART_OK")]
    pub restart_ok: bool,
}

pub async fn run(args: ReconfigureArgs) -> Result<(), CliError> {
    let desired = desired_from(&args)?;
    let admin = BrokerAdmin::new(args.connect.broker_addr(), args.connect.client_options()?);
    let live = admin.config().await?;
    let desired = desired.for_release(Release::for_broker(admin.version()))?;
    let plan = Plan::compute(&desired, &live);
    if !args.dry_run {
        apply(&admin, &plan).await?;
    }
    let verb = if args.dry_run { Verb::WouldSend } else { Verb::Sent };
    print_plan(&plan, &desired, verb, admin.addr(), args.json)?;
    if plan.needs_restart() && !args.restart_ok {
        let n = plan.restart_required.len() + plan.pending_restart().count();
        return Err(CliError::RestartRequired(format!("{n} value(s) take effect only after a broker restart")));
    }
    Ok(())
}

fn desired_from(args: &ReconfigureArgs) -> Result<Desired, CliError> {
    if args.pairs.len() % 2 != 0 {
        return Err(CliError::Usage(format!(
            "expected KEY VALUE pairs, got {} argument(s); use --set KEY=VALUE for a value with spaces or an empty one",
            args.pairs.len()
        )));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut from_file = Desired::default();
    if let Some(file) = &args.file {
        // Validated below with the rest, so every error is reported at once. Guard-owned keys
        // (brokerPermission) are never taken from a file: only given explicitly.
        let (owned, rest): (Vec<_>, Vec<_>) =
            read_pairs(file)?.into_iter().partition(|(k, _)| GUARD_OWNED.contains(&k.as_str()));
        pairs.extend(rest);
        from_file.values = Desired::from_pairs(owned)?.values;
    }
    pairs.extend(args.pairs.chunks(2).map(|kv| (kv[0].clone(), kv[1].clone())));
    for s in &args.set {
        let (k, v) = s.split_once('=').ok_or_else(|| CliError::Usage(format!("--set {s:?}: expected KEY=VALUE")))?;
        pairs.push((k.to_string(), v.to_string()));
    }
    if pairs.is_empty() && from_file.values.is_empty() {
        return Err(CliError::Usage("nothing to apply: give KEY VALUE, --set KEY=VALUE or --file FILE".into()));
    }
    let mut desired = Desired::from_pairs(pairs)?;
    from_file.leave_guard_owned();
    desired.ignored.extend(from_file.ignored);
    Ok(desired)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Sent,
    WouldSend,
    Diff,
}

/// `reconfigure --json` and `config diff --json` (docs/json.md): the plan and what was done with it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanReport<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    broker: &'a str,
    applied: bool,
    duplicates: &'a [String],
    release: Option<&'static str>,
    schema_version: u32,
}

/// The human (or JSON) report shared by `reconfigure` and `config diff`.
pub fn print_plan(plan: &Plan, desired: &Desired, verb: Verb, broker: &str, json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if json {
        let report = PlanReport {
            plan,
            broker,
            applied: verb == Verb::Sent && !plan.send.is_empty(),
            duplicates: &desired.duplicates,
            release: desired.release.map(|r| r.name()),
            schema_version: crate::JSON_SCHEMA_VERSION,
        };
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    let tag = |c: &crate::reload::Change| match (verb, c.effect) {
        (Verb::Sent, crate::params::Effect::Live) => "applied",
        (Verb::Sent, _) => "stored",
        (_, _) => "change",
    };
    for c in &plan.send {
        let from = c.from.as_deref().unwrap_or("(unset)");
        writeln!(out, "{:<8} {} {} -> {}  [{}] {}", tag(c), c.key, from, c.to, c.effect, c.why)?;
    }
    for c in &plan.restart_required {
        let from = c.from.as_deref().unwrap_or("(unset)");
        writeln!(out, "{:<8} {} {} -> {}  [{}] {}", "restart", c.key, from, c.to, c.effect, c.why)?;
    }
    for (k, why) in &plan.ignored {
        writeln!(out, "{:<8} {k}  {why}", "ignored")?;
    }
    for k in &desired.duplicates {
        writeln!(out, "{:<8} {k} given more than once: the last value is used (as Java does)", "note")?;
    }
    let n = plan.send.len();
    let summary = match verb {
        Verb::Sent if n > 0 => format!("{n} value(s) sent to {broker} in one request and verified by reading back"),
        Verb::WouldSend | Verb::Diff if n > 0 => {
            format!("{n} value(s) would be sent to {broker} in one request (dry run)")
        }
        _ => format!("nothing to send to {broker}"),
    };
    writeln!(out, "{summary}; {} unchanged, {} need a restart", plan.unchanged, plan.restart_required.len())?;
    Ok(())
}
