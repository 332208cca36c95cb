//! What a desired configuration changes on a broker, and what may be sent live.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::admin::BrokerConfig;
use crate::params::{normalize, Effect, Param, Scope};

use super::desired::Desired;

/// One parameter whose desired value differs from the broker's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub key: &'static str,
    /// The parameter of the broker's release (how its value is compared when read back).
    #[serde(skip)]
    pub param: &'static Param,
    /// The broker's current value (None: the broker does not list the key).
    pub from: Option<String>,
    pub to: String,
    /// What the broker's release does with it (serialized as live | persisted-only | unused |
    /// hazardous | absent | unverified).
    pub effect: Effect,
    /// What happens with it, in words.
    pub why: String,
}

/// The diff of a desired configuration against the broker's live one.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Sent in one UPDATE_BROKER_CONFIG and verified by reading back.
    pub send: Vec<Change>,
    /// Differs but never sent live: needs a restart (with the broker's own config file
    /// carrying the value).
    pub restart_required: Vec<Change>,
    /// Keys the broker's release does not have.
    pub ignored: Vec<(String, String)>,
    pub unchanged: usize,
}

impl Plan {
    /// The diff; `desired` should be checked for the broker's release first
    /// ([`Desired::for_release`]).
    pub fn compute(desired: &Desired, live: &BrokerConfig) -> Plan {
        let mut plan = Plan { ignored: desired.ignored.clone(), ..Plan::default() };
        for checked in desired.values.values() {
            let param = checked.param;
            let current = live.get(param.name);
            let same = current.is_some_and(|v| normalize(param, v).as_deref() == Some(checked.value.as_str()));
            if same {
                plan.unchanged += 1;
                continue;
            }
            let sendable = param.sendable();
            let why = match (sendable, param.effect) {
                (true, Effect::Live) => "live: takes effect at once".to_string(),
                (true, Effect::Startup) => "persisted-only: stored now, takes effect when the broker restarts".into(),
                (true, Effect::Unverified) => format!(
                    "stored; whether {} acts on it at once is not verified (read back to check it was taken)",
                    desired.release.map_or("this release".into(), |r| format!("RocketMQ {r}"))
                ),
                (true, _) => "stored; 4.9.6 never reads it".into(),
                (false, Effect::Hazardous) => format!("restart required, never sent live: {}", param.note),
                (false, _) if param.extra => format!("restart required: not in the addon's schema ({})", param.note),
                (false, _) => {
                    debug_assert_eq!(param.scope, Scope::Static);
                    "restart required: static (immutable) in KubeBlocks' parameter definition".into()
                }
            };
            let change = Change {
                key: param.name,
                param,
                from: current.cloned(),
                to: checked.value.clone(),
                effect: param.effect,
                why,
            };
            if sendable {
                plan.send.push(change);
            } else {
                plan.restart_required.push(change);
            }
        }
        plan
    }

    /// The key/value pairs of the one update request.
    pub fn body(&self) -> BTreeMap<String, String> {
        self.send.iter().map(|c| (c.key.to_string(), c.to.clone())).collect()
    }

    /// Sent changes that only take effect after a restart.
    pub fn pending_restart(&self) -> impl Iterator<Item = &Change> {
        self.send.iter().filter(|c| c.effect == Effect::Startup)
    }

    pub fn needs_restart(&self) -> bool {
        !self.restart_required.is_empty() || self.pending_restart().next().is_some()
    }
}
