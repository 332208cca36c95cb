use std::io::Write;

use clap::{Args, Subcommand};

use crate::admin::BrokerAdmin;

use super::args::ConnectArgs;
use super::error::CliError;

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the broker's live configuration (GET_BROKER_CONFIG), sorted `key=value` lines.
    Get(GetArgs),
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
    }
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
