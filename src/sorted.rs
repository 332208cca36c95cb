//! Lookups into a name-keyed map in the map's own order.
//!
//! A pass over one sorted table that looks each row's topic up in another (10,000 committed
//! offsets against 10,000 topics' stats, in a refresh and in a verdict) searched from the root
//! every time: about twenty name comparisons a row. `memcmp` was a fifth of a 10,000-topic
//! refresh's CPU in the static (musl) binary, whose `memcmp` goes byte by byte, most of it in such
//! searches and in tables inserted row by row. Walking both in order costs one or two a row.

use std::collections::btree_map::{self, BTreeMap};
use std::iter::Peekable;

/// Answers `get` as the map would; fast while the names asked never decrease.
pub struct InOrder<'m, V> {
    map: &'m BTreeMap<String, V>,
    rest: Peekable<btree_map::Iter<'m, String, V>>,
    /// The last entry walked past: every entry up to it has left `rest`.
    passed: Option<&'m str>,
}

impl<'m, V> InOrder<'m, V> {
    pub fn new(map: &'m BTreeMap<String, V>) -> Self {
        InOrder { map, rest: map.iter().peekable(), passed: None }
    }

    /// The value under `name`. A name at or before one already walked past (asked out of
    /// order) is searched for from the root, so the answer never depends on the order asked.
    pub fn get(&mut self, name: &str) -> Option<&'m V> {
        if self.passed.is_some_and(|passed| name <= passed) {
            return self.map.get(name);
        }
        while let Some((key, value)) = self.rest.peek() {
            match key.as_str().cmp(name) {
                std::cmp::Ordering::Less => self.passed = self.rest.next().map(|(key, _)| key.as_str()),
                std::cmp::Ordering::Equal => return Some(*value),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }
}

/// Whether the sorted `names` hold `name`, walking past every name before it: for a pass whose
/// names never decrease (a map's own order), one comparison or two a step. Unlike [`InOrder`] it
/// has no map to search again, so a name asked out of order reads as missing.
pub fn walk_to<'n>(names: &mut Peekable<impl Iterator<Item = &'n str>>, name: &str) -> bool {
    while names.next_if(|n| *n < name).is_some() {}
    names.peek() == Some(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_the_map_does_in_any_order_asked() {
        let map: BTreeMap<String, u32> =
            ["b", "d", "f", "h"].iter().zip(1..).map(|(k, v)| (k.to_string(), v)).collect();
        let asks = ["a", "b", "b", "c", "d", "h", "b", "e", "f", "z", "a", "g", "h"];
        let mut in_order = InOrder::new(&map);
        for name in asks {
            assert_eq!(in_order.get(name), map.get(name), "{name}");
        }
        // Every order of a few names, each walk from a fresh start.
        let names = ["a", "b", "c", "d", "h", "i"];
        for first in names {
            for second in names {
                for third in names {
                    let mut in_order = InOrder::new(&map);
                    for name in [first, second, third] {
                        assert_eq!(in_order.get(name), map.get(name), "{first} {second} {third}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_walk_finds_each_name_it_reaches_in_order() {
        let mut names = ["b", "b", "d"].into_iter().peekable();
        let found: Vec<bool> = ["a", "b", "c", "d", "e"].map(|n| walk_to(&mut names, n)).into();
        assert_eq!(found, [false, true, false, true, false]);
    }
}
