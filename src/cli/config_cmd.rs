//! `rocketmq-sidecar config get | diff | params`: the live config, what a file would change,
//! and the parameter catalog.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::admin::BrokerAdmin;
use crate::params::{Param, Release};
use crate::reload::{Desired, Plan};

use super::args::ConnectArgs;
use super::error::CliError;
use super::reconfigure_cmd::{print_plan, Verb};

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the broker's live configuration (GET_BROKER_CONFIG), sorted `key=value` lines.
    Get(GetArgs),
    /// What a properties file would change on the broker: per key old -> new, and whether it is
    /// live, persisted-only (needs a restart to take effect) or restart-required (never sent live).
    /// Sends nothing.
    Diff(DiffArgs),
    /// List every parameter of a RocketMQ release: type, default, its KubeBlocks scope in the shipped
    /// ParametersDefinition ("kb"; the addon's beside it where that differs), and what that release
    /// does with a live change (live | persisted-only | unused | hazardous | absent | unverified). No
    /// broker needed.
    Params(ParamsArgs),
}

#[derive(Args, Debug)]
pub struct ParamsArgs {
    /// Print JSON
    #[arg(long, env = "ROCKETMQ_SIDECAR_JSON")]
    pub json: bool,
    /// The release whose parameters to list: 4.9.6, 5.1.4, 5.3.3 or 5.5.0 (a broker's own is
    /// picked from its answers by every other command)
    #[arg(long, env = "ROCKETMQ_SIDECAR_RELEASE", default_value = "4.9.6", value_parser = parse_release)]
    pub release: Release,
}

fn parse_release(s: &str) -> Result<Release, String> {
    Release::from_name(s).ok_or_else(|| format!("unknown release {s:?}: 4.9.6, 5.1.4, 5.3.3 or 5.5.0"))
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The desired broker.conf
    #[arg(long, env = "ROCKETMQ_SIDECAR_FILE", value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Print JSON
    #[arg(long, env = "ROCKETMQ_SIDECAR_JSON")]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print one JSON object instead of key=value lines
    #[arg(long, env = "ROCKETMQ_SIDECAR_JSON")]
    pub json: bool,
}

pub async fn run(cmd: ConfigCommand) -> Result<(), CliError> {
    match cmd {
        ConfigCommand::Get(args) => get(args).await,
        ConfigCommand::Diff(args) => diff(args).await,
        ConfigCommand::Params(args) => params(args),
    }
}

async fn diff(args: DiffArgs) -> Result<(), CliError> {
    let desired = Desired::from_file(&args.file)?;
    let admin = BrokerAdmin::new(args.connect.broker_addr(), args.connect.client_options()?);
    let live = admin.config().await?;
    let desired = desired.for_release(Release::for_broker(admin.version()))?;
    let plan = Plan::compute(&desired, &live);
    print_plan(&plan, &desired, Verb::Diff, admin.addr(), args.json)
}

async fn get(args: GetArgs) -> Result<(), CliError> {
    let admin = BrokerAdmin::new(args.connect.broker_addr(), args.connect.client_options()?);
    let config = admin.config().await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &config).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        for (k, v) in &config {
            writeln!(out, "{k}={v}")?;
        }
    }
    Ok(())
}

/// One row of `config params --json` (docs/json.md).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ParamRow {
    name: &'static str,
    java_type: String,
    default: &'static str,
    kb_scope: &'static str,
    scope: &'static str,
    effect: &'static str,
    reloader: &'static str,
    in_addon_schema: bool,
    note: &'static str,
}

fn params(args: ParamsArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    // The shipped ParametersDefinitions are for 4.9.6; other releases have none of ours.
    let ours = |p: &Param| if args.release == Release::V4_9_6 { p.shipped_scope() } else { "-" };
    let rows = args.release.params().iter().map(|p| {
        let java = format!("{:?}", p.java).trim_start_matches('J').to_lowercase();
        let send = if p.sendable() { "sent live" } else { "never sent" };
        (p, java, ours(p), send)
    });
    if args.json {
        let list: Vec<ParamRow> = rows
            .map(|(p, java_type, kb_scope, reloader)| ParamRow {
                name: p.name,
                java_type,
                default: p.default,
                kb_scope,
                scope: p.addon_scope(),
                effect: p.effect.label(),
                reloader,
                in_addon_schema: !p.extra,
                note: p.note,
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    // "kb" is the scope our ParametersDefinition gives it; "addon" shows the addon's only where it differs.
    let effect = format!("effect ({})", args.release);
    writeln!(out, "{:<42} {:<5} {:<9} {:<8} {:<15} {:<11} note", "name", "type", "kb", "addon", effect, "reloader")?;
    for (p, java, kb, send) in rows {
        let addon = if p.extra || p.addon_scope() == kb { "" } else { p.addon_scope() };
        let (name, effect) = (p.name, p.effect.label());
        writeln!(out, "{name:<42} {java:<5} {kb:<9} {addon:<8} {effect:<15} {send:<11} {}", p.note)?;
    }
    Ok(())
}
