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

/// One refresh's view: the tracker for the next refresh, and which statistics to ask for.
pub struct Observed {
    pub next: Quiet,
    /// Per topic given, whether its statistics must be asked.
    pub ask_topics: Vec<bool>,
    /// Per pair given, the same.
    pub ask_pairs: Vec<bool>,
}

impl Quiet {
    /// Records `topics` (name, size) and `pairs` ((topic, group), mark) as seen at `now`.
    pub fn observe(
        &self,
        topics: &[(&String, i64)],
        pairs: impl Iterator<Item = ((String, String), PairMark)>,
        now: Instant,
    ) -> Observed {
        let mut next = Quiet { topics: HashMap::with_capacity(topics.len()), pairs: HashMap::new() };
        let still_since = |seen: Option<Instant>| seen.unwrap_or(now);
        let ask_topics = topics
            .iter()
            .map(|(topic, size)| {
                let seen = self.topics.get(topic.as_str()).filter(|(s, _)| s == size).map(|(_, since)| *since);
                let since = still_since(seen);
                next.topics.insert(topic.to_string(), (*size, since));
                now.saturating_duration_since(since) < QUIET_FOR
            })
            .collect();
        let ask_pairs = pairs
            .map(|(key, mark)| {
                let seen = self.pairs.get(&key).filter(|(m, _)| *m == mark).map(|(_, since)| *since);
                let since = still_since(seen);
                next.pairs.insert(key, (mark, since));
                let online_with_backlog = mark.2; // never quiet: a stuck consumer pulls without committing
                online_with_backlog || now.saturating_duration_since(since) < QUIET_FOR
            })
            .collect();
        Observed { next, ask_topics, ask_pairs }
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
            let seen = quiet.observe(&[(&t, size)], std::iter::once((("T".into(), "G".into()), pair)), Instant::now());
            quiet = seen.next;
            (seen.ask_topics[0], seen.ask_pairs[0])
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
