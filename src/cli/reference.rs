//! The configuration reference in README: every flag and env var of every subcommand, generated
//! from the clap definitions so it cannot drift (`tests/readme.rs` compares it with README).

use clap::{Arg, Command as ClapCommand, CommandFactory};

use super::env_names::Fallback;
use super::Cli;

/// Markdown: one table per command (flag, env var, default, what it does), global options first.
pub fn reference_markdown() -> String {
    let root = Cli::command();
    let mut out = String::new();
    out.push_str("Every command (global):\n\n");
    table(&mut out, root.get_arguments().filter(|a| a.is_global_set()));
    let mut commands = Vec::new();
    collect(&root, "rocketmq-sidecar", &mut commands);
    if let Some((_, cmd)) = commands.iter().find(|(_, c)| connects(c)) {
        out.push_str("\nConnection, for every command that talks to RocketMQ (marked *connection* below):\n\n");
        table(&mut out, cmd.get_arguments().filter(|a| is_connection(a)));
    }
    for (path, cmd) in commands {
        let shared = connects(&cmd);
        let args: Vec<&Arg> = cmd
            .get_arguments()
            .filter(|a| !a.is_global_set() && documented(a) && !(shared && is_connection(a)))
            .collect();
        let connects = if shared { " *connection*" } else { "" };
        out.push_str(&format!("\n`{path}`{connects}: {}\n\n", one_line(cmd.get_about().map(|a| a.to_string()))));
        if args.is_empty() {
            out.push_str("(no other options)\n");
        } else {
            table(&mut out, args.into_iter());
        }
    }
    out
}

/// Whether the command takes the shared connection options (`ConnectArgs`).
fn connects(cmd: &ClapCommand) -> bool {
    cmd.get_arguments().any(|a| a.get_id().as_str() == "broker")
}

/// The options of `ConnectArgs`, shared by every command that talks to RocketMQ.
fn is_connection(arg: &Arg) -> bool {
    matches!(
        arg.get_id().as_str(),
        "broker"
            | "namesrv"
            | "access_key"
            | "secret_key_file"
            | "timeout"
            | "max_frame"
            | "tls"
            | "tls_ca"
            | "tls_cert"
            | "tls_key"
            | "tls_insecure"
            | "tls_server_name"
            | "tls_config"
    )
}

/// Leaf commands (the ones that run), depth first, with their full invocation path.
fn collect(cmd: &ClapCommand, path: &str, out: &mut Vec<(String, ClapCommand)>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_path = format!("{path} {}", sub.get_name());
        if sub.has_subcommands() {
            collect(sub, &sub_path, out);
        } else {
            out.push((sub_path, sub.clone()));
        }
    }
}

fn documented(arg: &Arg) -> bool {
    !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version")
}

fn table<'a>(out: &mut String, args: impl Iterator<Item = &'a Arg>) {
    out.push_str("| option | env | default | what |\n|---|---|---|---|\n");
    for arg in args {
        let name = match (arg.get_long(), arg.is_positional()) {
            (Some(long), _) => format!("`--{long}`"),
            (None, true) => format!("`{}`", arg.get_value_names().map_or(arg.get_id().to_string(), |v| v.join(" "))),
            (None, false) => format!("`{}`", arg.get_id()),
        };
        let env = arg.get_env().map(|e| env_cell(&e.to_string_lossy())).unwrap_or_default();
        let default: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        let default = if default.is_empty() { String::new() } else { format!("`{}`", default.join(" ")) };
        let help = one_line(arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()));
        out.push_str(&format!("| {name} | {env} | {default} | {help} |\n"));
    }
}

/// Our env var, then the other names read for it (env_names.rs).
fn env_cell(ours: &str) -> String {
    let mut cell = format!("`{ours}`");
    for (other, why) in super::env_names::fallbacks_of(ours) {
        let why = match why {
            Fallback::Pod => "the addon's pod variable",
            Fallback::Deprecated => "deprecated",
        };
        cell.push_str(&format!(", else `{other}` ({why})"));
    }
    cell
}

/// Help text on one table line (pipes escaped).
fn one_line(text: Option<String>) -> String {
    text.unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}
