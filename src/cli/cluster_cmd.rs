//! `rocketmq-sidecar cluster`: clusters, shards and broker addresses from the name servers.

use std::io::Write;

use clap::Args;

use crate::admin::NamesrvAdmin;

use super::args::ConnectArgs;
use super::error::CliError;

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print JSON instead of a table
    #[arg(long, env = "ROCKETMQ_SIDECAR_JSON")]
    pub json: bool,
}

/// `cluster --json` (docs/json.md): the name servers' cluster info as they send it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterReport<'a> {
    #[serde(flatten)]
    info: &'a crate::admin::ClusterInfo,
    schema_version: u32,
}

pub async fn run(args: ClusterArgs) -> Result<(), CliError> {
    let admin = NamesrvAdmin::new(&args.connect.namesrv_addrs()?, args.connect.client_options()?)?;
    let info = admin.cluster_info().await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = ClusterReport { schema_version: crate::JSON_SCHEMA_VERSION, info: &info };
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    let rows: Vec<[String; 4]> = info
        .brokers
        .values()
        .flat_map(|b| {
            b.addrs.iter().map(|(id, addr)| [b.cluster.clone(), b.broker_name.clone(), id.to_string(), addr.clone()])
        })
        .collect();
    let header = ["CLUSTER", "BROKER", "ID", "ADDRESS"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
