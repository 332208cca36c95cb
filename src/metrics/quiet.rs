//! Which one-minute statistics a refresh can skip because their answer is known to be 0.
//!
//! The exporter's throughput series (`rocketmq_producer_tps`, `rocketmq_consumer_tps`, ...) come
//! from one VIEW_BROKER_STATS_DATA request per topic and three per group/topic pair: 15,000
//! requests per refresh at 5,000 pairs, most of them for groups and topics where nothing happens.
//! Offsets tell when nothing can have happened:
//! - a topic whose queues' max offsets have not moved for [`QUIET_FOR`] has had no message put in
//!   the last minute (every put moves a max offset);
//! - a group/topic pair whose committed offset and topic size have not moved for [`QUIET_FOR`],
//!   and that had no consumer online with messages to take at any refresh in that time, pulled
//!   nothing and sent nothing back in the last minute. (A group online with a backlog is always
//!   asked: a stuck consumer pulls without committing.)
//!
//! The broker's minute statistics cover at most the last 70 s (seven 10 s samples), so two quiet
//! minutes leave a margin. A refresh asks for everything the first time it sees a key.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// How long offsets must stay still before their minute statistics are taken as 0.
pub const QUIET_FOR: Duration = Duration::from_secs(120);

/// What a pair's offsets looked like: (committed, lag, a consumer online with a backlog).
type PairMark = (i64, i64, bool);

/// When each topic's and pair's offsets were first seen as they are now. Owned by the metrics
/// refresh loop; each refresh builds the next one from the previous one.
#[derive(Debug, Clone, Default)]
pub struct Quiet {
    topics: HashMap<String, (i64, Instant)>,
    pairs: HashMap<(String, String), (PairMark, Instant)>,
}

impl Quiet {
    /// Records `topics` (name, size) as seen at `now`; returns the next tracker and, per topic,
    /// whether its statistics must be asked.
    pub fn topics(&self, topics: &[(&String, i64)], now: Instant) -> (HashMap<String, (i64, Instant)>, Vec<bool>) {
        let mut next = HashMap::with_capacity(topics.len());
        let ask = topics
            .iter()
            .map(|(topic, size)| {
                let since = match self.topics.get(topic.as_str()) {
                    Some((seen, since)) if seen == size => *since,
                    _ => now,
                };
                next.insert(topic.to_string(), (*size, since));
                now.saturating_duration_since(since) < QUIET_FOR
            })
            .collect();
        (next, ask)
    }

    /// The same for pairs ((topic, group), mark).
    pub fn pairs(
        &self,
        pairs: impl Iterator<Item = ((String, String), PairMark)>,
        now: Instant,
    ) -> (HashMap<(String, String), (PairMark, Instant)>, Vec<bool>) {
        let mut next = HashMap::new();
        let mut ask = Vec::new();
        for (key, mark) in pairs {
            let since = match self.pairs.get(&key) {
                Some((seen, since)) if *seen == mark => *since,
                _ => now,
            };
            let busy = mark.2; // online with a backlog: never quiet
            ask.push(busy || now.saturating_duration_since(since) < QUIET_FOR);
            next.insert(key, (mark, since));
        }
        (next, ask)
    }

    pub fn from_parts(
        topics: HashMap<String, (i64, Instant)>,
        pairs: HashMap<(String, String), (PairMark, Instant)>,
    ) -> Quiet {
        Quiet { topics, pairs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn statistics_are_skipped_only_after_two_still_minutes_and_asked_again_on_any_move() {
        let t = "T".to_string();
        let mut quiet = Quiet::default();
        let mut step = |size: i64, pair: PairMark| {
            let now = Instant::now();
            let (topics, ask_topic) = quiet.topics(&[(&t, size)], now);
            let (pairs, ask_pair) = quiet.pairs(std::iter::once((("T".into(), "G".into()), pair)), now);
            quiet = Quiet::from_parts(topics, pairs);
            (ask_topic[0], ask_pair[0])
        };
        assert_eq!(step(10, (5, 5, false)), (true, true), "first seen: asked");
        tokio::time::advance(QUIET_FOR - Duration::from_secs(1)).await;
        assert_eq!(step(10, (5, 5, false)), (true, true), "still for less than two minutes: asked");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(step(10, (5, 5, false)), (false, false), "two still minutes: known to be 0");
        assert_eq!(step(11, (5, 6, false)), (true, true), "a put moves both: asked again");
        tokio::time::advance(QUIET_FOR).await;
        assert_eq!(step(11, (5, 6, false)), (false, false));
        assert_eq!(step(11, (5, 6, true)), (false, true), "a consumer online with a backlog is always asked");
        tokio::time::advance(QUIET_FOR).await;
        assert_eq!(step(11, (5, 6, true)), (false, true));
    }
}
