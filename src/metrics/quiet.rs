//! Which one-minute statistics a refresh asks for, and which it knows or keeps.
//!
//! The exporter's throughput series (`rocketmq_producer_tps`, `rocketmq_consumer_tps`, ...) come
//! from one VIEW_BROKER_STATS_DATA request per topic and three per group/topic pair: 15,000
//! requests per refresh at 5,000 pairs. Three rules keep that down:
//! - **Known 0.** Offsets tell when nothing can have happened: a topic whose queues' max offsets
//!   have not moved for [`QUIET_FOR`] has had no message put in the last minute (every put moves
//!   a max offset); a group/topic pair whose committed offset and topic size have not moved for
//!   [`QUIET_FOR`], and that had no consumer online with messages to take at any refresh in that
//!   time, pulled nothing and sent nothing back. (A group online with a backlog is never taken as
//!   quiet: a stuck consumer pulls without committing.) An empty topic, and any pair on it, is 0
//!   from the start. The broker's minute statistics cover at most the last 70 s (seven 10 s
//!   samples), so two quiet minutes leave a margin.
//! - **Once a minute.** A key that may be busy is asked again once its last answer is
//!   [`ASK_AGAIN_AFTER`] old; between asks its series show that answer.
//! - **A budget.** At most [`ASKS_PER_REFRESH`] keys are asked per refresh, the never-asked first,
//!   then the oldest answers. Over it, a key shows its last answer (older than a minute), or, never
//!   asked yet, no throughput series at all until its turn comes (a cold start at 5,000 busy pairs
//!   fills in over ten refreshes).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::admin::{StatsMinute, DLQ_PREFIX, RETRY_PREFIX};

/// How long offsets must stay still before their minute statistics are taken as 0.
pub const QUIET_FOR: Duration = Duration::from_secs(120);

/// A key whose statistics can be other than 0 is asked again once its last answer is this old:
/// the answer is itself a one-minute average (and rocketmq-exporter collects once a minute), so
/// asking a busy key at every refresh would only cost its broker more.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// At most this many keys (a topic's or a pair's statistics, 2 or 3 requests) are asked per
/// refresh; the longest unasked go first. This bounds a refresh when every statistic is due: a
/// cold start, or a broker whose groups all consume all the time (15,000 requests at 5,000 pairs).
pub const ASKS_PER_REFRESH: usize = 500;

/// What a pair's offsets looked like: (committed, lag, a consumer online with a backlog).
type PairMark = (i64, i64, bool);

/// A topic's minute statistics (puts, bytes) and a pair's (gets, bytes, sent back); None is 0.
pub type TopicValues = [Option<StatsMinute>; 2];
pub type PairValues = [Option<StatsMinute>; 3];

/// What one refresh does about one key's minute statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan<V> {
    /// Its offsets have been still long enough: known to be 0, not asked.
    Zero,
    /// Asked in this refresh.
    Ask,
    /// Not asked this time: the values of its last answer (at most [`ASK_AGAIN_AFTER`] old, or
    /// older while more keys are due than [`ASKS_PER_REFRESH`]).
    Kept(V),
    /// Never answered yet and over this refresh's budget: unknown, so its series are left out.
    Unknown,
}

/// One key as last seen: its offsets' mark, since when they have looked so, and its last answer.
#[derive(Debug, Clone)]
struct Seen<M, V> {
    mark: M,
    since: Instant,
    /// Boxed: most keys of a large broker are quiet and have none, and 10,000 of them are held
    /// twice during a refresh (this one's and the next one's).
    answered: Option<Box<(Instant, V)>>,
    /// Known to be 0 at the last refresh (its values, should it wake over budget, are 0 then:
    /// never an answer from before it went quiet).
    was_zero: bool,
}

/// When each topic's and pair's offsets were first seen as they are now, and their last minute
/// statistics. Owned by the metrics refresh loop; each refresh builds the next one from the
/// previous one.
#[derive(Debug, Clone, Default)]
pub struct Quiet {
    topics: HashMap<String, Seen<i64, TopicValues>>,
    pairs: HashMap<(String, String), Seen<PairMark, PairValues>>,
}

/// One refresh's view: the tracker for the next refresh, and what to do per topic and pair.
pub struct Observed {
    pub next: Quiet,
    /// Per topic given, in order.
    pub topics: Vec<Plan<TopicValues>>,
    /// Per pair given, in order.
    pub pairs: Vec<Plan<PairValues>>,
}

/// Where a key may go before the budget is applied.
enum Due<V> {
    Zero,
    Kept(V),
    /// Asked last at this time (None: never): the budget goes to the longest waiting.
    Waiting(Option<Instant>, Option<V>),
}

impl Quiet {
    /// Records `topics` (name, size) and `pairs` ((topic, group), mark, whether the topic is
    /// empty) as seen at `now`, and plans each one's statistics. An empty topic has had no put
    /// and a pair on it no pull, and retry and dead-letter topics have no throughput series: those
    /// are 0 from the start and take nothing from the budget.
    pub fn observe(
        &self,
        topics: &[(&String, i64)],
        pairs: impl Iterator<Item = ((String, String), PairMark, bool)>,
        now: Instant,
    ) -> Observed {
        // Sized up front: 10,000 keys grown into a map rehash every key at each doubling.
        let (pairs_seen, _) = pairs.size_hint();
        let mut next =
            Quiet { topics: HashMap::with_capacity(topics.len()), pairs: HashMap::with_capacity(pairs_seen) };
        let topic_due: Vec<Due<TopicValues>> = topics
            .iter()
            .map(|(topic, size)| {
                let seen = self.topics.get(topic.as_str());
                let (seen, due) = step(seen, *size, false, now);
                next.topics.insert(topic.to_string(), seen);
                let no_series = topic.starts_with(RETRY_PREFIX) || topic.starts_with(DLQ_PREFIX);
                if *size <= 0 || no_series {
                    Due::Zero
                } else {
                    due
                }
            })
            .collect();
        let pair_due: Vec<Due<PairValues>> = pairs
            .map(|(key, mark, empty_topic)| {
                // A consumer online with a backlog is never quiet: a stuck one pulls without committing.
                let (seen, due) = step(self.pairs.get(&key), mark, mark.2, now);
                next.pairs.insert(key, seen);
                if empty_topic {
                    Due::Zero
                } else {
                    due
                }
            })
            .collect();
        let (topics, pairs) = within_budget(topic_due, pair_due);
        Observed { next, topics, pairs }
    }

    /// Keeps the answers of this refresh's asked keys for the next ones.
    pub fn answered_topic(&mut self, topic: &str, values: TopicValues, now: Instant) {
        if let Some(seen) = self.topics.get_mut(topic) {
            seen.answered = Some(Box::new((now, values)));
        }
    }

    pub fn answered_pair(&mut self, topic: &str, group: &str, values: PairValues, now: Instant) {
        if let Some(seen) = self.pairs.get_mut(&(topic.to_string(), group.to_string())) {
            seen.answered = Some(Box::new((now, values)));
        }
    }
}

/// One key's next record and what is due for it, before the budget.
fn step<M: PartialEq + Copy, V: Copy + Default>(
    seen: Option<&Seen<M, V>>,
    mark: M,
    never_quiet: bool,
    now: Instant,
) -> (Seen<M, V>, Due<V>) {
    let since = seen.filter(|s| s.mark == mark).map_or(now, |s| s.since);
    if !never_quiet && now.saturating_duration_since(since) >= QUIET_FOR {
        return (Seen { mark, since, answered: None, was_zero: true }, Due::Zero);
    }
    let answered = seen.and_then(|s| s.answered.clone());
    let was_zero = seen.is_some_and(|s| s.was_zero);
    let due = match answered.as_deref() {
        Some((at, values)) if now.saturating_duration_since(*at) < ASK_AGAIN_AFTER => Due::Kept(*values),
        Some((at, values)) => Due::Waiting(Some(*at), Some(*values)),
        None => Due::Waiting(None, was_zero.then(V::default)),
    };
    (Seen { mark, since, answered, was_zero }, due)
}

/// Gives [`ASKS_PER_REFRESH`] asks to the waiting keys, never-asked first, then the oldest answers.
fn within_budget(
    topics: Vec<Due<TopicValues>>,
    pairs: Vec<Due<PairValues>>,
) -> (Vec<Plan<TopicValues>>, Vec<Plan<PairValues>>) {
    let mut queue: Vec<(Option<Instant>, bool, usize)> = topics
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((waiting(d)?, true, i)))
        .chain(pairs.iter().enumerate().filter_map(|(i, d)| Some((waiting(d)?, false, i))))
        .collect();
    queue.sort_by_key(|(at, _, _)| *at); // None (never asked) sorts first
    let mut asked = (vec![false; topics.len()], vec![false; pairs.len()]);
    for (_, is_topic, i) in queue.into_iter().take(ASKS_PER_REFRESH) {
        if is_topic {
            asked.0[i] = true
        } else {
            asked.1[i] = true
        }
    }
    (plans(topics, &asked.0), plans(pairs, &asked.1))
}

/// When a waiting key was last answered (None: never); None for a key that is not waiting.
fn waiting<V>(due: &Due<V>) -> Option<Option<Instant>> {
    match due {
        Due::Waiting(at, _) => Some(*at),
        _ => None,
    }
}

fn plans<V>(due: Vec<Due<V>>, asked: &[bool]) -> Vec<Plan<V>> {
    due.into_iter()
        .zip(asked)
        .map(|(due, asked)| match due {
            Due::Zero => Plan::Zero,
            Due::Kept(v) => Plan::Kept(v),
            Due::Waiting(..) if *asked => Plan::Ask,
            Due::Waiting(_, Some(v)) => Plan::Kept(v),
            Due::Waiting(_, None) => Plan::Unknown,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Option<StatsMinute> = Some(StatsMinute { sum: 60, tps: 1.0 });

    /// Observes one topic and one pair, records an answer for what was asked; the plans as letters.
    fn refresh(quiet: &mut Quiet, size: i64, pair: PairMark) -> (char, char) {
        let t = "T".to_string();
        let now = Instant::now();
        let seen = quiet.observe(&[(&t, size)], std::iter::once((("T".into(), "G".into()), pair, false)), now);
        *quiet = seen.next;
        if seen.topics[0] == Plan::Ask {
            quiet.answered_topic("T", [ONE; 2], now);
        }
        if seen.pairs[0] == Plan::Ask {
            quiet.answered_pair("T", "G", [ONE; 3], now);
        }
        (letter(&seen.topics[0]), letter(&seen.pairs[0]))
    }

    fn letter<V>(plan: &Plan<V>) -> char {
        match plan {
            Plan::Zero => 'Z',
            Plan::Ask => 'A',
            Plan::Kept(_) => 'K',
            Plan::Unknown => 'U',
        }
    }

    #[tokio::test(start_paused = true)]
    async fn busy_keys_are_asked_once_a_minute_and_still_ones_not_after_two_minutes() {
        let mut quiet = Quiet::default();
        let secs = |s| tokio::time::advance(Duration::from_secs(s));
        assert_eq!(refresh(&mut quiet, 10, (5, 5, false)), ('A', 'A'), "first seen: asked");
        secs(59).await;
        assert_eq!(refresh(&mut quiet, 10, (5, 5, false)), ('K', 'K'), "answered 59 s ago: kept");
        secs(1).await;
        assert_eq!(refresh(&mut quiet, 10, (5, 5, false)), ('A', 'A'), "a minute old: asked again");
        secs(60).await;
        assert_eq!(refresh(&mut quiet, 10, (5, 5, false)), ('Z', 'Z'), "two still minutes: known to be 0");
        assert_eq!(refresh(&mut quiet, 11, (5, 6, false)), ('A', 'A'), "a put moves both: asked at once");
        secs(120).await;
        assert_eq!(refresh(&mut quiet, 11, (5, 6, false)), ('Z', 'Z'));
        assert_eq!(refresh(&mut quiet, 11, (5, 6, true)), ('Z', 'A'), "a consumer online with a backlog");
        secs(120).await;
        assert_eq!(refresh(&mut quiet, 11, (5, 6, true)), ('Z', 'A'), "...is never taken as quiet");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_asks_at_most_its_budget_the_longest_waiting_first_and_empty_topics_never() {
        let topics = ["busy".to_string(), "empty".to_string()];
        let sizes = [(&topics[0], 5), (&topics[1], 0)];
        let n = ASKS_PER_REFRESH + 10;
        let pairs = || (0..n).map(|g| (("busy".to_string(), format!("G{g}")), (0, 5, false), false));
        let mut quiet = Quiet::default();
        let seen = quiet.observe(&sizes, pairs(), Instant::now());
        assert_eq!(seen.topics[1], Plan::Zero, "an empty topic is 0 without asking");
        let count = |plans: &[Plan<PairValues>], want: char| plans.iter().filter(|p| letter(*p) == want).count();
        let asked = count(&seen.pairs, 'A') + usize::from(seen.topics[0] == Plan::Ask);
        let over = n + 1 - ASKS_PER_REFRESH; // the busy topic and n pairs were due
        assert_eq!((asked, count(&seen.pairs, 'U')), (ASKS_PER_REFRESH, over), "over the budget: unknown");
        quiet = seen.next;
        let now = Instant::now();
        quiet.answered_topic("busy", [ONE; 2], now);
        for (i, plan) in seen.pairs.iter().enumerate() {
            if *plan == Plan::Ask {
                quiet.answered_pair("busy", &format!("G{i}"), [ONE; 3], now);
            }
        }
        tokio::time::advance(Duration::from_secs(15)).await;
        let seen = quiet.observe(&sizes, pairs(), Instant::now());
        assert_eq!((count(&seen.pairs, 'A'), count(&seen.pairs, 'K')), (over, n - over), "the never-asked go first");
        assert_eq!(count(&seen.pairs, 'U'), 0, "the never-asked go first");
    }
}
