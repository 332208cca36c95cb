use clap::Args;

use crate::role::RoleProbe;

use super::args::ConnectArgs;
use super::error::CliError;

pub const ABOUT: &str =
    "Print this broker's role for the KubeBlocks roleProbe action: `master` or `slave`";

pub const LONG_ABOUT: &str = "\
Print this broker's role for the KubeBlocks roleProbe action: `master` or `slave` (the role names the
rocketmq addon declares), then exit 0.

The role comes from the broker's live config (brokerRole, brokerId; in DLedger mode the broker keeps
these current) and is cross-checked with the name servers when they are known (--namesrv, NAMESRV_ADDR,
or the addon's ALL_NAMESRV_FQDN + NAMESRV_PORT). When the broker cannot be asked, answers
inconsistently, or the name servers register it differently, nothing is printed on stdout, a one-line
reason goes to stderr and the exit code is 1, all within --timeout. An unreachable name server does not
fail the probe (the broker's own answer stands).";

#[derive(Args, Debug)]
pub struct RoleArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Skip the name-server cross-check even when name servers are known
    #[arg(long, env = "ROCKETMQ_SIDECAR_NO_NAMESRV_CHECK")]
    pub no_namesrv_check: bool,
}

pub async fn run(args: RoleArgs) -> Result<(), CliError> {
    let namesrv = if args.no_namesrv_check {
        None
    } else {
        args.connect.namesrv_addrs().ok()
    };
    let probe = RoleProbe::new(
        &args.connect.broker_addr(),
        namesrv.as_deref(),
        args.connect.client_options()?,
    )?;
    let obs = probe
        .check(args.connect.timeout, false)
        .await
        .map_err(|source| CliError::Role {
            broker: probe.broker_addr().to_string(),
            source,
        })?;
    println!("{}", obs.role);
    Ok(())
}
