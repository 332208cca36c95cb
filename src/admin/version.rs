//! The broker's RocketMQ release, from the `version` field every answer carries: the broker's
//! `MQVersion.CURRENT_VERSION`, an ordinal of the `MQVersion.Version` enum (BrokerStartup sets it
//! as the remoting version). Learning it costs no request, and it decides what a version family
//! can do (the timer wheel and POP exist only on 5.x; parameters differ per release).
//!
//! The enum only ever grew at its end, with `Vx_y_z_SNAPSHOT` before each `Vx_y_z`, so ordinals
//! are stable across releases (checked against MQVersion.java at rocketmq-all-4.9.6 and 5.5.0):
//! V4_0_0 = 213, V4_9_6 = 405, V5_0_0 = 413, and from there ten patch releases per minor.

use serde::Serialize;

const V4_0_0: i32 = 213;
const V4_9_0: i32 = 393;
const V5_0_0: i32 = 413;
const V5_0_0_SNAPSHOT: i32 = V5_0_0 - 1;
/// `HIGHER_VERSION`, the enum's last entry.
const HIGHER: i32 = 612;

/// Which line of RocketMQ a broker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Family {
    #[serde(rename = "4.x")]
    V4,
    #[serde(rename = "5.x")]
    V5,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "4.x",
            Family::V5 => "5.x",
        }
    }
}

/// A broker's `MQVersion` ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BrokerVersion(pub i32);

impl BrokerVersion {
    /// 4.x or 5.x; None for 3.x, unknown ordinals and `HIGHER_VERSION`.
    pub fn family(self) -> Option<Family> {
        match self.0 {
            V4_0_0..V5_0_0_SNAPSHOT => Some(Family::V4),
            V5_0_0_SNAPSHOT..HIGHER => Some(Family::V5),
            _ => None,
        }
    }

    /// The enum constant's name (`V5_5_0`, `V4_9_6`, `V5_3_3_SNAPSHOT`) where the ordinal's place
    /// is regular (4.9.x and 5.x); otherwise `MQVersion#N`.
    pub fn name(self) -> String {
        let (base, major, minors) = match self.0 {
            V4_9_0..V5_0_0_SNAPSHOT => (V4_9_0, 4, Some(9)),
            V5_0_0_SNAPSHOT..HIGHER => (V5_0_0, 5, None),
            _ => return format!("MQVersion#{}", self.0),
        };
        // Each release is preceded by its snapshot: even steps from the base are releases.
        let step = self.0 - base;
        let release = (step + 1) / 2;
        let snapshot = if step.rem_euclid(2) == 1 { "_SNAPSHOT" } else { "" };
        match minors {
            Some(minor) => format!("V{major}_{minor}_{release}{snapshot}"),
            None => format!("V{major}_{}_{}{snapshot}", release / 10, release % 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_name_the_releases_we_run() {
        for (ordinal, name, family) in [
            (405, "V4_9_6", Family::V4),
            (407, "V4_9_7", Family::V4),
            (412, "V5_0_0_SNAPSHOT", Family::V5),
            (413, "V5_0_0", Family::V5),
            (414, "V5_0_1_SNAPSHOT", Family::V5),
            (441, "V5_1_4", Family::V5),
            (479, "V5_3_3", Family::V5),
            (513, "V5_5_0", Family::V5),
        ] {
            let v = BrokerVersion(ordinal);
            assert_eq!((v.name().as_str(), v.family()), (name, Some(family)), "{ordinal}");
        }
        assert_eq!(BrokerVersion(100).family(), None);
        assert_eq!(BrokerVersion(612).name(), "MQVersion#612");
    }
}
