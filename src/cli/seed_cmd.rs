//! `rocketmq-sidecar seed`: topics.json and subscriptionGroup.json for a new shard's store.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::seed::{seed, Seeded};

use super::args::parse_duration;
use super::error::CliError;

pub const ABOUT: &str = "Seed a new shard's topics.json / subscriptionGroup.json from a peer's sidecar";

pub const LONG_ABOUT: &str = "\
Seed a new shard's metadata before its broker starts (what the addon's broker-setup.sh does with
curl and the rocketmq-agent container): for config/topics.json and config/subscriptionGroup.json
under --data-dir, fetch <URL>/topicInfo and <URL>/subscriptionGroupInfo from the first peer that
answers with valid JSON holding dataVersion and the table, and write it atomically (temp file +
rename). An existing file is never overwritten. If no peer answers, it fails and writes nothing.
Exit codes: 0 seeded (or already present), 1 no peer gave a valid answer, 64 bad arguments.";

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// Peer sidecar base URLs, e.g. http://broker-0-0.headless:8999 (comma-separated, tried in order)
    #[arg(long, env = "ROCKETMQ_SIDECAR_FROM", value_delimiter = ',', required = true, value_name = "URL[,URL...]")]
    pub from: Vec<String>,
    /// The broker's store root (storePathRootDir); files go to DIR/config/ [fallback: the addon's
    /// DATA_DIR]
    #[arg(long, env = "ROCKETMQ_SIDECAR_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Time limit per peer request (`--timeout` is an older name for it)
    #[arg(long, alias = "timeout", env = "ROCKETMQ_SIDECAR_PEER_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub peer_timeout: Duration,
}

pub async fn run(args: SeedArgs) -> Result<(), CliError> {
    let urls: Vec<String> = args.from.iter().map(|u| u.trim().to_string()).filter(|u| !u.is_empty()).collect();
    if urls.is_empty() {
        return Err(CliError::Usage("--from needs at least one URL".into()));
    }
    let done = seed(&urls, &args.data_dir, args.peer_timeout).await?;
    for s in done {
        match s {
            Seeded::Written { path, from, entries } => {
                println!("wrote {} ({entries} entries) from {from}", path.display())
            }
            Seeded::Kept { path } => println!("kept {} (already present, not overwritten)", path.display()),
        }
    }
    Ok(())
}
