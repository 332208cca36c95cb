//! Parameters per RocketMQ release. Which keys a broker takes, and as which Java type, differs
//! between 4.9.6 and each 5.x release (5.5.0 has 492 settable keys, 4.9.6 has 184). The lists in
//! `keys/<release>.tsv` are generated from the official jars by `scripts/param-keys.sh` (reflection
//! over the four config classes the broker updates, as `MixAll.properties2Object` does), and
//! `tests/params_keys.rs` proves them equal to what the jars say.
//!
//! 4.9.6 uses the hand-verified catalog ([`super::catalog`]; the test also checks its Java types
//! against the generated list). A 5.x release takes its keys and types from its list, and keeps
//! from the 4.9.6 catalog only what never sends a key live (hazardous, identity and static keys,
//! re-checked on 5.5.0 by an evidence test) and the value rules (ranges, formats). Every other
//! 5.x key is [`Effect::Unverified`]: sent and read back, but never claimed to act live.

use std::sync::OnceLock;

use crate::admin::BrokerVersion;

use super::catalog::{self, Effect, JavaType, Param, SchemaType, Scope};

/// A RocketMQ release with a parameter list of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Release {
    V4_9_6,
    V5_1_4,
    V5_3_3,
    V5_5_0,
}

impl Release {
    pub const ALL: [Release; 4] = [Release::V4_9_6, Release::V5_1_4, Release::V5_3_3, Release::V5_5_0];

    pub fn name(self) -> &'static str {
        match self {
            Release::V4_9_6 => "4.9.6",
            Release::V5_1_4 => "5.1.4",
            Release::V5_3_3 => "5.3.3",
            Release::V5_5_0 => "5.5.0",
        }
    }

    pub fn from_name(name: &str) -> Option<Release> {
        Release::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The list that fits a broker: 4.x → 4.9.6; 5.0–5.2 → 5.1.4; 5.3–5.4 → 5.3.3; 5.5 and
    /// later → 5.5.0 (the newest known: a key a newer broker added is refused, never guessed at).
    /// Unknown version → 4.9.6, the line KubeBlocks documents.
    pub fn for_broker(version: Option<BrokerVersion>) -> Release {
        // A snapshot counts as the release it precedes (V5_3_0_SNAPSHOT is a 5.3).
        match version.and_then(BrokerVersion::parts) {
            Some((5, minor, ..)) if minor >= 5 => Release::V5_5_0,
            Some((5, minor, ..)) if minor >= 3 => Release::V5_3_3,
            Some((5, ..)) => Release::V5_1_4,
            _ => Release::V4_9_6,
        }
    }

    /// The generated key list: `key<TAB>java type<TAB>classes`, after one comment line.
    pub fn keys_tsv(self) -> &'static str {
        match self {
            Release::V4_9_6 => include_str!("keys/4.9.6.tsv"),
            Release::V5_1_4 => include_str!("keys/5.1.4.tsv"),
            Release::V5_3_3 => include_str!("keys/5.3.3.tsv"),
            Release::V5_5_0 => include_str!("keys/5.5.0.tsv"),
        }
    }

    /// Every parameter of this release.
    pub fn params(self) -> &'static [Param] {
        static LISTS: [OnceLock<Vec<Param>>; 4] = [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
        LISTS[self as usize].get_or_init(|| match self {
            Release::V4_9_6 => catalog::CATALOG.iter().chain(catalog::EXTRA).copied().collect(),
            _ => five_x(self.keys_tsv()),
        })
    }

    /// The parameter called `name` in this release (case-sensitive, as in Java). In 4.9.6 a
    /// few schema keys are known to be absent (`JNone`): found, and ignored with their reason.
    pub fn lookup(self, name: &str) -> Option<&'static Param> {
        self.params().iter().find(|p| p.name == name)
    }

    /// Keys the addon's 4.9.6 broker.conf writes that this release ignores (reported, never sent).
    pub fn foreign(self, name: &str) -> bool {
        self == Release::V4_9_6 && catalog::FOREIGN.contains(&name)
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// 5.x keys that are part of a broker's identity or set up at startup only: restart required.
const STARTUP_ONLY_5X: &[(&str, &str)] = &[
    ("brokerConfigPath", "on the broker's own config black list: UPDATE_BROKER_CONFIG refuses it"),
    ("configBlackList", "on the broker's own config black list: UPDATE_BROKER_CONFIG refuses it"),
    ("enableControllerMode", "controller mode is chosen at startup"),
    ("controllerAddr", "the controller addresses are read at startup"),
    ("fetchControllerAddrByDnsLookup", "read at startup"),
    ("storePathEpochFile", "store path; startup-only"),
    ("storePathBrokerIdentity", "store path; startup-only"),
    ("timerWheelEnable", "the timer store exists only when enabled at startup: a live flip makes timed sends fail"),
    ("enableSlaveActingMaster", "chosen at startup with the broker's HA setup"),
];

/// A 5.x release's parameters: its generated key list, with the 4.9.6 catalog's rules layered on.
fn five_x(tsv: &'static str) -> Vec<Param> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let (name, java) = (cols.next()?, java_type(cols.next()?)?);
            Some(five_x_param(name, java))
        })
        .collect()
}

fn five_x_param(name: &'static str, java: JavaType) -> Param {
    let known = catalog::lookup(name).filter(|p| p.java != JavaType::JNone);
    if let Some((_, why)) = STARTUP_ONLY_5X.iter().find(|(n, _)| *n == name) {
        return Param { scope: Scope::Static, effect: Effect::Startup, note: why, extra: true, ..fresh(name, java) };
    }
    match known {
        // Never sent live on 4.9.6: the same holds on 5.x (checked for flushDiskType on 5.5.0).
        Some(p) if !p.sendable() => Param {
            java: if p.java == JavaType::JEnum { p.java } else { java },
            // Static in KubeBlocks either way; "live" was 4.9.6's evidence, not 5.x's.
            effect: if p.effect == Effect::Live { Effect::Unverified } else { p.effect },
            ..*p
        },
        Some(p) => Param { java, effect: Effect::Unverified, note: UNVERIFIED, ..*p },
        None => fresh(name, java),
    }
}

const UNVERIFIED: &str = "5.x: stored and read back; whether it acts at once is not verified on this release";

fn fresh(name: &'static str, java: JavaType) -> Param {
    let schema = match java {
        JavaType::JBool => SchemaType::Bool,
        JavaType::JInt | JavaType::JLong => SchemaType::Int,
        _ => SchemaType::Str,
    };
    Param {
        name,
        schema,
        default: "",
        scope: Scope::Dyn,
        java,
        effect: Effect::Unverified,
        constraint: "",
        range: None,
        note: UNVERIFIED,
        extra: true,
    }
}

/// The generated type column → how the value is checked. `-`: the broker cannot set it.
/// Overloads (`String|int`): a value any of them parses is taken, and a String always parses.
fn java_type(column: &str) -> Option<JavaType> {
    if column.contains('|') {
        return column.split('|').any(|t| t == "String").then_some(JavaType::JStr);
    }
    Some(match column {
        "int" => JavaType::JInt,
        "long" => JavaType::JLong,
        "boolean" => JavaType::JBool,
        "String" => JavaType::JStr,
        "double" | "float" => JavaType::JFloat,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_get_their_release() {
        let r = |o| Release::for_broker(Some(BrokerVersion(o)));
        assert_eq!(
            [r(405), r(441), r(479), r(513), r(600)],
            [Release::V4_9_6, Release::V5_1_4, Release::V5_3_3, Release::V5_5_0, Release::V5_5_0]
        );
        assert_eq!(Release::for_broker(None), Release::V4_9_6);
        // The boundaries: V5_2_9 / V5_3_0_SNAPSHOT and V5_4_9 / V5_5_0_SNAPSHOT.
        assert_eq!(
            [r(471), r(472), r(511), r(512)],
            [Release::V5_1_4, Release::V5_3_3, Release::V5_3_3, Release::V5_5_0]
        );
        assert_eq!(BrokerVersion(472).name(), "V5_3_0_SNAPSHOT");
        assert_eq!(BrokerVersion(512).name(), "V5_5_0_SNAPSHOT");
    }

    #[test]
    fn five_x_keeps_the_hazards_and_claims_nothing_live() {
        let r = Release::V5_5_0;
        assert_eq!(r.lookup("flushDiskType").unwrap().effect, Effect::Hazardous);
        assert_eq!(r.lookup("flushDiskType").unwrap().java, JavaType::JEnum);
        assert_eq!(r.lookup("brokerName").unwrap().effect, Effect::Hazardous);
        assert_eq!(r.lookup("timerWheelEnable").unwrap().scope, Scope::Static);
        let max = r.lookup("maxMessageSize").unwrap();
        assert_eq!((max.effect, max.range.is_some()), (Effect::Unverified, true), "ranges kept");
        assert!(r.params().iter().all(|p| p.effect != Effect::Live), "nothing live without evidence");
        assert!(Release::V4_9_6.lookup("timerWheelEnable").is_none());
        assert_eq!(Release::V4_9_6.lookup("autoMessageVersionOnTopicLen").unwrap().effect, Effect::Absent);
        assert_eq!(r.lookup("autoMessageVersionOnTopicLen").unwrap().java, JavaType::JBool);
    }
}
