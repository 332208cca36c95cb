//! Are producers still writing to this broker? A shard is only empty for good once writes have
//! stopped, and on 4.9.6 taking the write permission away does not stop them at once:
//! `brokerPermission=4` reaches the name servers immediately, but the broker itself refuses
//! sends only for order topics (`AbstractSendMessageProcessor.msgCheck`), so a producer that
//! already holds the route keeps getting SEND_OK until its next route refresh
//! (`pollNameServerInterval`, 30 s by default).
//!
//! The rule: no message stored for the quiet window (default 35 s = the 30 s route poll plus a
//! margin), counted from the later of the newest stored message and, on a read-only broker, the
//! moment it went read-only. Both come from the broker's own clock: the newest message from the
//! queues' `lastUpdateTimestamp`, the read-only point from the config's DataVersion (bumped by
//! every config update, so it is never earlier than the permission change).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::read::BrokerOffsets;

/// The default quiet window: producers' route poll (30 s) plus a margin.
pub const DEFAULT_QUIET_WINDOW: Duration = Duration::from_secs(35);

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Writes {
    /// Whether producers are allowed to route here (`brokerPermission` has the write bit).
    pub writable: bool,
    /// When the broker stored its newest message, any topic (ms since the epoch, broker clock).
    pub last_write_ms: Option<i64>,
    /// While read-only: the broker's time of its last config update, the permission change or later.
    pub read_only_since_ms: Option<i64>,
    pub quiet_window_ms: u64,
    /// Why writes make the shard unsafe now; None when they do not.
    pub still_writing: Option<String>,
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A broker timestamp as RFC 3339 UTC with milliseconds.
pub fn format_ms(ms: i64) -> String {
    // RFC 3339 has four-digit years: a broker time past 9999-12-31 (a corrupt or hostile stamp)
    // is shown as the number it is rather than failing the formatter.
    const LAST_MS: i64 = 253_402_300_799_999;
    if !(0..=LAST_MS).contains(&ms) {
        return format!("{ms} ms after the epoch");
    }
    let t = UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs());
    humantime::format_rfc3339_millis(t).to_string()
}

/// Applies the quiet-window rule at `now_ms` (our clock; the sidecar shares the broker's pod and
/// so its clock). A zero window turns the rule off.
pub fn assess(read: &BrokerOffsets, quiet_window: Duration, now_ms: i64) -> Writes {
    let writable = read.writable();
    let last_write_ms = (read.last_store_ms > 0).then_some(read.last_store_ms);
    let read_only_since_ms = if writable { None } else { read.config_version.map(|v| v.timestamp_ms) };
    let window_ms = i64::try_from(quiet_window.as_millis()).unwrap_or(i64::MAX);
    // The broker's clock is the broker's: a time from the future counts as recent (still writing).
    let ago = |t: i64| format!("{:.1} s ago ({})", now_ms.saturating_sub(t) as f64 / 1000.0, format_ms(t));
    let recent = |t: &i64| window_ms > 0 && now_ms.saturating_sub(*t) < window_ms;
    let window = format!("{:.0} s", quiet_window.as_secs_f64());
    let still_writing = if window_ms == 0 {
        None
    } else if writable {
        last_write_ms.filter(recent).map(|w| {
            format!(
                "still receiving writes: the newest message was stored {}, and the broker is writable. Run \
                 `scale-in drain` first (read-only, then wait until writes stop), or wait until no write for {window}",
                ago(w)
            )
        })
    } else {
        match (last_write_ms, read_only_since_ms) {
            (Some(w), Some(r)) if w > r && recent(&w) => Some(format!(
                "still receiving writes: the newest message was stored {}, after the broker went read-only at {}; \
                 producers with a cached route keep sending until their next route refresh \
                 (pollNameServerInterval, 30 s by default). Wait until no write for {window}",
                ago(w),
                format_ms(r)
            )),
            (_, Some(r)) if recent(&r) => Some(format!(
                "may still receive writes: the broker went read-only only {}, and producers may still hold a \
                 cached route. Wait until it has been read-only for {window}",
                ago(r)
            )),
            (Some(w), None) if recent(&w) => Some(format!(
                "still receiving writes: the newest message was stored {}; wait until no write for {window}",
                ago(w)
            )),
            _ => None,
        }
    };
    Writes { writable, last_write_ms, read_only_since_ms, quiet_window_ms: window_ms as u64, still_writing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::DataVersion;

    fn offsets(permission: &str, last_store_ms: i64, config_ms: i64) -> BrokerOffsets {
        BrokerOffsets {
            topics: Default::default(),
            groups: Default::default(),
            offsets: Default::default(),
            delay: Default::default(),
            config: [("brokerPermission".to_string(), permission.to_string())].into(),
            config_version: Some(DataVersion { counter: 1, timestamp_ms: config_ms }),
            stats: Default::default(),
            last_store_ms,
            consumers: Default::default(),
            not_asked: 0,
            timer: None,
            revive_last_store_ms: 0,
            min_unknown: Default::default(),
        }
    }

    const W: Duration = Duration::from_secs(35);
    const NOW: i64 = 1_000_000_000;

    fn why(permission: &str, last_write_ago: i64, read_only_ago: i64) -> Option<String> {
        assess(&offsets(permission, NOW - last_write_ago, NOW - read_only_ago), W, NOW).still_writing
    }

    #[test]
    fn writes_within_the_window_block_and_quiet_ones_do_not() {
        assert!(why("6", 1_000, 900_000).unwrap().contains("the broker is writable"));
        assert_eq!(why("6", 36_000, 900_000), None);
        // Read-only: a write after the permission went is the cached-route case.
        assert!(why("4", 1_000, 10_000).unwrap().contains("after the broker went read-only"));
        // Read-only only just now, the newest write before it: producers may still hold the route.
        assert!(why("4", 20_000, 10_000).unwrap().contains("may still receive writes"));
        // Read-only and quiet for longer than the window.
        assert_eq!(why("4", 100_000, 40_000), None);
        // A zero window turns the rule off; an empty broker has nothing to wait for.
        assert_eq!(assess(&offsets("6", NOW, NOW), Duration::ZERO, NOW).still_writing, None);
        assert_eq!(assess(&offsets("6", 0, 0), W, NOW).still_writing, None);
    }
}
