use std::io::Write;

use clap::{Args, Subcommand};

use crate::admin::BrokerAdmin;
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
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The desired broker.conf
    #[arg(long, value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print one JSON object instead of key=value lines
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cmd: ConfigCommand) -> Result<(), CliError> {
    match cmd {
        ConfigCommand::Get(args) => get(args).await,
        ConfigCommand::Diff(args) => diff(args).await,
    }
}

async fn diff(args: DiffArgs) -> Result<(), CliError> {
    let desired = Desired::from_file(&args.file)?;
    let admin = BrokerAdmin::new(args.connect.broker_addr(), args.connect.client_options()?);
    let live = admin.config().await?;
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
