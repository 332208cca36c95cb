//! The `rocketmq-sidecar` command line. Every flag can also come from an environment variable
//! (KubeBlocks hands configuration to actions and containers as env).

mod args;
mod cluster_cmd;
mod config_cmd;
mod env_names;
mod error;
mod install_cmd;
mod reconfigure_cmd;
mod reference;
mod role_cmd;
mod scale_in_cmd;
mod seed_cmd;
mod serve_cmd;
mod tls_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use args::{parse_duration, ConnectArgs};
pub use env_names::FALLBACKS as ENV_FALLBACKS;
pub use error::{CliError, EXIT_USAGE};
pub use reference::reference_markdown;

const ABOUT: &str = "Native sidecar agent for Apache RocketMQ brokers (4.9.6 and 5.x) managed by KubeBlocks.";

const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 the broker or name server failed, refused or could not be reached, the
role cannot be determined (one-line reason on stderr), or a local failure (a port in use, a
directory not writable); 2 a bad parameter value or config file (nothing sent); 3 (reconfigure)
some values need a broker restart; 64 a bad command line (unknown flag, missing or malformed
option or env var; nothing sent).
scale-in check / pre-terminate: 0 safe, 1 unconsumed messages (table on stdout) or writes not stopped
for the quiet window, 2 cannot tell (never reported as safe).

Connection settings (every command that talks to RocketMQ; not `config params`, `seed` or
`install`): --broker, --namesrv, --access-key, --secret-key-file,
--timeout, --max-frame; each also from the env var shown in its help. The ACL secret comes only
from ROCKETMQ_SIDECAR_SECRET_KEY or --secret-key-file, never the command line.
Env vars: --some-flag is ROCKETMQ_SIDECAR_SOME_FLAG. The addon's pod variables are read where
a flag's help says so (DATA_DIR, KB_CLUSTER_COMPONENT_IS_SCALING_IN, BROKER_PORT, ...); the names of
earlier releases (NAMESRV_ADDR, ROCKETMQ_ACCESS_KEY, ROCKETMQ_SECRET_KEY, ...) still work, with a
deprecation warning.
ACL: when no key is given and ENABLE_ACL=true, the addon's ROCKETMQ_USER / ROCKETMQ_PASSWORD
are used. Secrets are never printed or logged.";

#[derive(Parser, Debug)]
#[command(name = "rocketmq-sidecar", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// Log filter for stderr (tracing syntax, e.g. `info` or `rocketmq_sidecar=debug`)
    /// [default: info for serve, warn otherwise]
    #[arg(long, global = true, env = "ROCKETMQ_SIDECAR_LOG")]
    pub log: Option<String>,

    /// Log line format on stderr: `json` (one object per line: timestamp, level, target, fields
    /// and the spans of checks, applies and scans, for Loki / Elasticsearch / Cloud Logging) or
    /// `text` [default: text on a terminal, json otherwise]
    #[arg(long, global = true, env = "ROCKETMQ_SIDECAR_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Broker configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// List clusters, broker groups (shards) and broker addresses by brokerId from the name servers.
    Cluster(cluster_cmd::ClusterArgs),
    #[command(about = role_cmd::ABOUT, long_about = role_cmd::LONG_ABOUT)]
    Role(role_cmd::RoleArgs),
    #[command(about = reconfigure_cmd::ABOUT, long_about = reconfigure_cmd::LONG_ABOUT)]
    Reconfigure(reconfigure_cmd::ReconfigureArgs),
    #[command(about = scale_in_cmd::ABOUT, subcommand)]
    ScaleIn(scale_in_cmd::ScaleInCommand),
    #[command(about = seed_cmd::ABOUT, long_about = seed_cmd::LONG_ABOUT)]
    Seed(seed_cmd::SeedArgs),
    #[command(about = serve_cmd::ABOUT, long_about = serve_cmd::long_about())]
    Serve(serve_cmd::ServeArgs),
    #[command(about = install_cmd::ABOUT, long_about = install_cmd::LONG_ABOUT)]
    Install(install_cmd::InstallArgs),
}

/// Parses the command line, runs the command, and maps the outcome to an exit code.
pub fn run() -> ExitCode {
    env_names::apply_fallbacks();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let default_log = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    init_logging(cli.log.as_deref().unwrap_or(default_log), cli.log_format);
    // `serve` answers probes while scans and reloads run: two workers, so a CPU-heavy decode of a
    // large broker answer never holds up `/role`. One-shot commands start faster on one thread.
    let runtime = if matches!(cli.command, Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Config(cmd) => config_cmd::run(cmd).await,
            Command::Cluster(args) => cluster_cmd::run(args).await,
            Command::Role(args) => role_cmd::run(args).await,
            Command::Reconfigure(args) => reconfigure_cmd::run(args).await,
            Command::ScaleIn(cmd) => scale_in_cmd::run(cmd).await,
            Command::Seed(args) => seed_cmd::run(args).await,
            Command::Serve(args) => serve_cmd::run(args).await,
            Command::Install(args) => install_cmd::run(args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn init_logging(filter: &str, format: Option<LogFormat>) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // A terminal gets coloured text; a pod's log pipeline gets one JSON object per line.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format.unwrap_or(if terminal { LogFormat::Text } else { LogFormat::Json }) {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
        LogFormat::Text => builder.with_ansi(terminal).try_init(),
    };
}
