//! Which groups' online consumers a metrics refresh asks for. 4.9.6 answers one group per request
//! (GET_CONSUMER_CONNECTION_LIST; no request lists every group's consumers), so a broker with
//! 10,000 groups costs 10,000 requests per refresh, ~20 µs of its CPU each. Most of those groups
//! are offline and stay so.
//!
//! A refresh always asks every group that was online at its last answer (its clients,
//! subscriptions and broadcast progress can change at any time) and every group never asked; of
//! the groups offline at their last answer it asks at most [`OFFLINE_ASKS_PER_REFRESH`], the
//! longest unasked first, and takes the rest as still offline. Under that many offline groups,
//! every group is asked every refresh. A guard verdict never uses this: it asks every group whose
//! committed offsets do not already block ([`super::read`]).

use std::collections::{BTreeMap, HashMap};

use tokio::time::Instant;

use crate::admin::OnlineConsumers;

/// At most this many groups that were offline at their last answer are asked again per refresh.
/// At 10,000 such groups each is asked every third refresh (45 s at the default 15 s interval).
pub const OFFLINE_ASKS_PER_REFRESH: usize = 4000;

/// When each group was last asked, and whether it was online then.
#[derive(Debug, Default, Clone)]
pub struct OnlineSeen {
    groups: HashMap<String, Seen>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    asked_at: Instant,
    online: bool,
}

impl OnlineSeen {
    /// Which of `candidates` to ask now: the online and the never asked, then the offline ones
    /// asked longest ago, up to `offline_budget` of them; and how many of those offline ones.
    /// A refresh that asks in two goes shares [`OFFLINE_ASKS_PER_REFRESH`] between them.
    pub(super) fn to_ask(&self, candidates: &[String], offline_budget: usize) -> (Vec<String>, usize) {
        let mut offline: Vec<(Instant, &String)> = Vec::new();
        let mut ask: Vec<String> = Vec::new();
        for group in candidates {
            match self.groups.get(group) {
                Some(Seen { online: false, asked_at }) => offline.push((*asked_at, group)),
                _ => ask.push(group.clone()),
            }
        }
        if offline.len() > offline_budget {
            offline.select_nth_unstable(offline_budget);
            offline.truncate(offline_budget);
        }
        let offline_asked = offline.len();
        ask.extend(offline.into_iter().map(|(_, g)| g.clone()));
        (ask, offline_asked)
    }

    /// The online consumers of every candidate (the answers just received for `asked`, the last
    /// answer for the others: offline), and what the next refresh starts from. Groups no longer
    /// candidates are forgotten.
    pub(super) fn merge(
        mut self,
        candidates: &[String],
        asked: &[String],
        answers: BTreeMap<String, OnlineConsumers>,
        at: Instant,
    ) -> (BTreeMap<String, OnlineConsumers>, OnlineSeen) {
        for group in asked {
            self.groups.insert(group.clone(), Seen { asked_at: at, online: answers.contains_key(group) });
        }
        let mut groups = HashMap::with_capacity(candidates.len());
        for group in candidates {
            if let Some(seen) = self.groups.remove(group) {
                groups.insert(group.clone(), seen);
            }
        }
        (answers, OnlineSeen { groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("G{i:05}")).collect()
    }

    fn online() -> OnlineConsumers {
        OnlineConsumers { message_model: "CLUSTERING".into(), clients: vec!["c1".into()], ..Default::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn offline_groups_are_asked_in_turns_and_online_or_new_ones_every_refresh() {
        let all = names(OFFLINE_ASKS_PER_REFRESH * 2 + 10);
        let seen = OnlineSeen::default();
        assert_eq!(seen.to_ask(&all, OFFLINE_ASKS_PER_REFRESH), (all.clone(), 0), "a first refresh asks every group");
        let answers: BTreeMap<_, _> = [(all[3].clone(), online())].into();
        let (now_online, mut seen) = seen.merge(&all, &all, answers, Instant::now());
        assert_eq!(now_online.keys().collect::<Vec<_>>(), [&all[3]]);

        let mut asked_per_group: HashMap<String, usize> = HashMap::new();
        let mut with_new = all.clone();
        with_new.push("Gnew".into());
        for refresh in 0..3 {
            tokio::time::advance(Duration::from_secs(15)).await;
            let (ask, offline) = seen.to_ask(&with_new, OFFLINE_ASKS_PER_REFRESH);
            assert_eq!(offline, OFFLINE_ASKS_PER_REFRESH);
            let new = usize::from(refresh == 0);
            assert_eq!(ask.len(), 1 + new + OFFLINE_ASKS_PER_REFRESH, "online, new and the budget");
            assert!(ask.contains(&all[3]) && (new == 0 || ask.contains(&"Gnew".to_string())));
            for g in &ask {
                *asked_per_group.entry(g.clone()).or_default() += 1;
            }
            let answers: BTreeMap<_, _> = [(all[3].clone(), online())].into();
            let (now_online, next) = seen.merge(&with_new, &ask, answers, Instant::now());
            assert_eq!(now_online.len(), 1, "a group not asked is taken as offline, as last seen");
            seen = next;
        }
        assert!(all.iter().all(|g| asked_per_group.get(g).is_some_and(|n| *n >= 1)), "every group within 3 refreshes");
        assert_eq!(asked_per_group[&all[3]], 3);

        let (ask, offline) = seen.to_ask(&all[..10], 2);
        assert_eq!((ask.len(), offline), (3, 2), "the online group and the budget's two offline ones");
        assert_eq!(seen.to_ask(&all[..10], 0), (vec![all[3].clone()], 0), "a spent budget asks no offline group");

        let (_, seen) = seen.merge(&all[..5], &[], BTreeMap::new(), Instant::now());
        assert_eq!(seen.groups.len(), 5, "groups no longer candidates are forgotten");
    }
}
