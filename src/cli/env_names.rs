//! Env var names follow one rule: `--some-flag` is `ROCKETMQ_SIDECAR_SOME_FLAG`. Two kinds of other
//! names still work, read once before the command line is parsed:
//! - the addon's and KubeBlocks' pod variables (`DATA_DIR`, `KB_CLUSTER_COMPONENT_IS_SCALING_IN`),
//!   which a pod already carries, so the shipped manifests need not repeat them;
//! - the names of earlier releases, each with a deprecation warning on stderr.
//!
//! Our own name always wins when both are set. (`BROKER_PORT`, `ALL_NAMESRV_FQDN` + `NAMESRV_PORT`,
//! `ENABLE_ACL` with `ROCKETMQ_USER` / `ROCKETMQ_PASSWORD` and `MY_CLUSTER_COMP_NAME` are not
//! renames but defaults built from the addon's variables; `args.rs` and `scale_in_cmd.rs` read them.)

/// Why another name is read for one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// A variable the addon's or KubeBlocks' pods carry: read silently.
    Pod,
    /// An earlier release's name: read, with a warning naming ours.
    Deprecated,
}

/// Our name, the other name read when ours is unset, and why.
pub const FALLBACKS: &[(&str, &str, Fallback)] = &[
    ("ROCKETMQ_SIDECAR_NAMESRV", "NAMESRV_ADDR", Fallback::Deprecated),
    ("ROCKETMQ_SIDECAR_ACCESS_KEY", "ROCKETMQ_ACCESS_KEY", Fallback::Deprecated),
    ("ROCKETMQ_SIDECAR_SECRET_KEY", "ROCKETMQ_SECRET_KEY", Fallback::Deprecated),
    ("ROCKETMQ_SIDECAR_SECRET_KEY_FILE", "ROCKETMQ_SECRET_KEY_FILE", Fallback::Deprecated),
    ("ROCKETMQ_SIDECAR_DATA_DIR", "DATA_DIR", Fallback::Pod),
    ("ROCKETMQ_SIDECAR_FROM", "ROCKETMQ_SIDECAR_SEED_FROM", Fallback::Deprecated),
    ("ROCKETMQ_SIDECAR_PEER_TIMEOUT", "ROCKETMQ_SIDECAR_SEED_TIMEOUT", Fallback::Deprecated),
    ("ROCKETMQ_SIDECAR_SCALING_IN", "KB_CLUSTER_COMPONENT_IS_SCALING_IN", Fallback::Pod),
    ("ROCKETMQ_SIDECAR_WITH_VERSION", "ROCKETMQ_SIDECAR_ROLE_VERSION", Fallback::Deprecated),
];

/// The env var that holds the ACL secret key (there is no flag: a secret on the command line shows
/// in `ps`).
pub const SECRET_KEY: &str = "ROCKETMQ_SIDECAR_SECRET_KEY";

/// Copies each fallback's value into our name when ours is unset, so clap and the code read one
/// name. Runs before the runtime starts, while the process has one thread.
pub fn apply_fallbacks() {
    for (ours, other, why) in FALLBACKS {
        if non_empty(ours).is_some() {
            continue;
        }
        let Some(value) = non_empty(other) else { continue };
        if *why == Fallback::Deprecated {
            eprintln!("warning: the env var {other} is deprecated and will be removed; set {ours} instead (its value is used)");
        }
        std::env::set_var(ours, value);
    }
}

/// The other names read for `ours`, for the configuration reference.
pub fn fallbacks_of(ours: &str) -> impl Iterator<Item = (&'static str, Fallback)> + '_ {
    FALLBACKS.iter().filter(move |(o, _, _)| *o == ours).map(|(_, other, why)| (*other, *why))
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    /// Every option's env var is `ROCKETMQ_SIDECAR_` + its long name, in every subcommand.
    #[test]
    fn every_env_var_is_the_prefix_and_the_flag() {
        fn check(cmd: &clap::Command, path: &str, seen: &mut usize, wrong: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
                let expected = format!("ROCKETMQ_SIDECAR_{}", long.to_uppercase().replace('-', "_"));
                if env.to_str() != Some(expected.as_str()) {
                    wrong.push(format!("{path} --{long}: {env:?}, not {expected}"));
                }
                *seen += 1;
            }
            for sub in cmd.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()), seen, wrong);
            }
        }
        let (mut seen, mut wrong) = (0, Vec::new());
        check(&Cli::command(), "rocketmq-sidecar", &mut seen, &mut wrong);
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert!(seen > 40, "{seen}");
    }

    #[test]
    fn every_fallback_is_for_one_of_our_names() {
        for (ours, other, _) in FALLBACKS {
            assert!(ours.starts_with("ROCKETMQ_SIDECAR_") && !other.is_empty() && ours != other);
        }
    }
}
