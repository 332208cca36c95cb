//! `rocketmq-sidecar role`: the KubeBlocks roleProbe action (prints master or slave, or fails).

use clap::Args;

use crate::remoting::ClientOptions;
use crate::role::RoleProbe;

use super::args::ConnectArgs;
use super::error::CliError;

pub const ABOUT: &str = "Print this broker's role for the KubeBlocks roleProbe action: `master` or `slave`";

pub const LONG_ABOUT: &str = "\
Print this broker's role for the KubeBlocks roleProbe action: `master` or `slave` (the role names the
rocketmq addon declares), then exit 0.

The role comes from the broker's live config (brokerRole, brokerId; in DLedger mode the broker keeps
these current) and is cross-checked with the name servers when they are known (--namesrv,
ROCKETMQ_SIDECAR_NAMESRV, or the addon's ALL_NAMESRV_FQDN + NAMESRV_PORT). When the broker cannot be asked, answers
inconsistently, or the name servers register it differently, nothing is printed on stdout, a one-line
reason goes to stderr and the exit code is 1, all within --timeout. An unreachable name server does not
fail the probe (the broker's own answer stands).

With --with-version (the KubeBlocks >= 1.2 manifests), a DLedger or controller-mode broker prints
`<role> <version>`: the DLedger term or the controller's master epoch, which grow with every election;
KubeBlocks 1.2 then never lets an older `master` overwrite a newer `slave`.";

#[derive(Args, Debug)]
pub struct RoleArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Skip the name-server cross-check even when name servers are known
    #[arg(long, env = "ROCKETMQ_SIDECAR_NO_NAMESRV_CHECK")]
    pub no_namesrv_check: bool,
    /// Print `<role> <version>` for KubeBlocks >= 1.2, which orders role events by it: the DLedger
    /// term, or the controller's master epoch; a plain master/slave shard prints the role alone.
    /// Exit 1 when the shard has a version and it cannot be told
    #[arg(long, env = "ROCKETMQ_SIDECAR_WITH_VERSION")]
    pub with_version: bool,
}

/// The probe for `role` and `serve`: the broker, plus the name servers unless told to skip them
/// (an unknown name-server list just means no cross-check).
pub(super) fn build_probe(
    connect: &ConnectArgs,
    no_namesrv_check: bool,
    opts: ClientOptions,
) -> Result<RoleProbe, CliError> {
    let namesrv = if no_namesrv_check { None } else { connect.namesrv_addrs().ok() };
    Ok(RoleProbe::new(&connect.broker_addr(), namesrv.as_deref(), opts)?)
}

pub async fn run(args: RoleArgs) -> Result<(), CliError> {
    let probe = build_probe(&args.connect, args.no_namesrv_check, args.connect.client_options()?)?;
    let obs = probe
        .check(args.connect.timeout, false)
        .await
        .map_err(|source| CliError::Role { broker: probe.broker_addr().to_string(), source })?;
    let version = if args.with_version { obs.role_version() } else { Ok(None) };
    match version {
        Ok(Some(v)) => println!("{} {v}", obs.role),
        Ok(None) => println!("{}", obs.role),
        Err(why) => {
            let source = crate::role::RoleError::NoVersion(why);
            return Err(CliError::Role { broker: probe.broker_addr().to_string(), source });
        }
    }
    Ok(())
}
