//! The broker's RocketMQ release, from the `version` field every answer carries: the broker's
//! `MQVersion.CURRENT_VERSION`, an ordinal of the `MQVersion.Version` enum (BrokerStartup sets it
//! as the remoting version). Learning it costs no request, and it decides which parameter list
//! applies (`params::Release`); `/status` and the JSON outputs show it.
//!
//! The enum only ever grew at its end, with `Vx_y_z_SNAPSHOT` before each `Vx_y_z`, so ordinals
//! are stable across releases (checked against MQVersion.java at rocketmq-all-4.9.6 and 5.5.0):
//! V4_0_0 = 213, V4_9_6 = 405, V5_0_0 = 413, and from there ten patch releases per minor.

const V4_9_0: i32 = 393;
const V5_0_0: i32 = 413;
const V5_0_0_SNAPSHOT: i32 = V5_0_0 - 1;
/// `HIGHER_VERSION`, the enum's last entry.
const HIGHER: i32 = 612;

/// A broker's `MQVersion` ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BrokerVersion(pub i32);

impl BrokerVersion {
    /// `(major, minor, patch, snapshot)` where the ordinal's place is regular (4.9.x and 5.x).
    pub fn parts(self) -> Option<(i32, i32, i32, bool)> {
        let (base, major, minor) = match self.0 {
            V4_9_0..V5_0_0_SNAPSHOT => (V4_9_0, 4, Some(9)),
            V5_0_0_SNAPSHOT..HIGHER => (V5_0_0, 5, None),
            _ => return None,
        };
        // Each release is preceded by its snapshot: even steps from the base are releases.
        let step = self.0 - base;
        let release = (step + 1) / 2;
        let snapshot = step.rem_euclid(2) == 1;
        Some(match minor {
            Some(minor) => (major, minor, release, snapshot),
            None => (major, release / 10, release % 10, snapshot),
        })
    }

    /// The enum constant's name (`V5_5_0`, `V4_9_6`, `V5_3_3_SNAPSHOT`) where the ordinal's place
    /// is regular (4.9.x and 5.x); otherwise `MQVersion#N`.
    pub fn name(self) -> String {
        match self.parts() {
            Some((major, minor, patch, snapshot)) => {
                format!("V{major}_{minor}_{patch}{}", if snapshot { "_SNAPSHOT" } else { "" })
            }
            None => format!("MQVersion#{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_name_the_releases_we_run() {
        for (ordinal, name, major) in [
            (405, "V4_9_6", 4),
            (407, "V4_9_7", 4),
            (412, "V5_0_0_SNAPSHOT", 5),
            (413, "V5_0_0", 5),
            (414, "V5_0_1_SNAPSHOT", 5),
            (441, "V5_1_4", 5),
            (479, "V5_3_3", 5),
            (513, "V5_5_0", 5),
        ] {
            let v = BrokerVersion(ordinal);
            assert_eq!((v.name().as_str(), v.parts().map(|p| p.0)), (name, Some(major)), "{ordinal}");
        }
        assert_eq!(BrokerVersion(100).parts(), None);
        assert_eq!(BrokerVersion(612).name(), "MQVersion#612");
    }
}
