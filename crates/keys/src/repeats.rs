//! Events that can repeat on every request (a rate-limited request, a secret key from a
//! browser, a publishable key from an unlisted website), coalesced before they cost I/O.
//!
//! Without this, a flood of such requests costs more than normal traffic: each one is a
//! Durable Object call (edge and regional mode) or SQLite writes (strict mode), which is
//! exactly what an attacker with a public, rate-limited publishable key would aim for.
//! The first occurrence of an event goes out at once, so alerts and webhooks are not
//! delayed; the repeats within its window are counted in memory and go out as one count
//! when the window ends (on the next occurrence of anything, or the owner's timer).

use alloc::vec::Vec;

use crate::time::UnixMillis;

/// Repeats of one event with one key are sent (or written) at most this often, as one
/// count: by a gate isolate, and by a key ring in strict mode.
pub const EVENT_WINDOW_MS: u64 = 10_000;
/// Events held per isolate or key ring, at most; past that, each is recorded on its own.
pub const MAX_HELD_EVENTS: usize = 1_000;

/// What is known of an event's occurrences besides their number (who sent the last one,
/// which origins were seen): merged as repeats are counted. Whatever it holds must stay
/// bounded, as an attacker chooses what goes into it.
pub trait Observation: Clone {
    /// Takes in a later occurrence's observation.
    fn merge(&mut self, later: Self);
}

/// One event, or several of the same, to record: `count` occurrences, the last at
/// `last_at`, with what was observed of them (`client`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen<K, C> {
    pub event: K,
    pub count: u32,
    pub last_at: UnixMillis,
    pub client: C,
}

/// What [`Repeats::record`] asks of its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded<K, C> {
    /// To record now.
    pub send: Vec<Seen<K, C>>,
    /// Repeats are now held until then: call [`Repeats::take_due`] at that time.
    pub look_again_at: Option<UnixMillis>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Held<C> {
    window_start: UnixMillis,
    repeats: u32,
    last_at: UnixMillis,
    client: C,
}

/// Coalesces repeats of each event (`K`: which key, which kind of event; never anything the
/// client chooses, or each request could be a first occurrence) for `window_ms`.
/// At most `max_held` events are held at once; past that, an event goes out at once, as if
/// it were not coalesced, so memory stays bounded whatever the traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeats<K: PartialEq, C> {
    /// A list, not a map: it holds a few events at a time, and a map's code would cost
    /// the worker's bundle several kilobytes per instantiation.
    held: Vec<(K, Held<C>)>,
    /// When the earliest held window ends, so that most calls need not look further.
    next_end: Option<UnixMillis>,
    pub window_ms: u64,
    pub max_held: usize,
}

impl<K: PartialEq + Clone, C: Observation> Repeats<K, C> {
    pub const fn new(window_ms: u64, max_held: usize) -> Self {
        Repeats {
            held: Vec::new(),
            next_end: None,
            window_ms,
            max_held,
        }
    }

    /// One occurrence of `event` at `now`. Returns what to record now (this occurrence if
    /// it is the first in its window, and the counted repeats of every window that ended),
    /// and, when this is the first repeat its window holds, when that window ends: the
    /// owner must make sure to look again then.
    pub fn record(&mut self, event: K, client: C, now: UnixMillis) -> Recorded<K, C> {
        let mut send = self.take_due(now);
        if let Some((_, held)) = self.held.iter_mut().find(|(held, _)| *held == event) {
            held.repeats = held.repeats.saturating_add(1);
            held.last_at = held.last_at.max(now);
            held.client.merge(client);
            let first_repeat = held.repeats == 1;
            let end = UnixMillis(held.window_start.0.saturating_add(self.window_ms));
            return Recorded {
                send,
                look_again_at: first_repeat.then_some(end),
            };
        }
        if self.held.len() < self.max_held {
            let held = Held {
                window_start: now,
                repeats: 0,
                last_at: now,
                client: client.clone(),
            };
            self.held.push((event.clone(), held));
            let end = UnixMillis(now.0.saturating_add(self.window_ms));
            self.next_end = Some(self.next_end.map_or(end, |next| next.min(end)));
        }
        send.push(Seen {
            event,
            count: 1,
            last_at: now,
            client,
        });
        Recorded {
            send,
            look_again_at: None,
        }
    }

    /// Ends every window that is over at `now`, returning the repeats counted in them.
    /// Cheap when none is over (one comparison), as it runs on every request.
    pub fn take_due(&mut self, now: UnixMillis) -> Vec<Seen<K, C>> {
        if self.next_end.is_none_or(|end| now < end) {
            return Vec::new();
        }
        let window_ms = self.window_ms;
        let end_of = |held: &Held<C>| UnixMillis(held.window_start.0.saturating_add(window_ms));
        let mut out = Vec::new();
        self.held.retain(|(event, held)| {
            if now < end_of(held) {
                return true;
            }
            if held.repeats > 0 {
                out.push(Seen {
                    event: event.clone(),
                    count: held.repeats,
                    last_at: held.last_at,
                    client: held.client.clone(),
                });
            }
            false
        });
        self.next_end = self.held.iter().map(|(_, held)| end_of(held)).min();
        out
    }

    /// Every repeat counted so far, windows over or not (for an owner about to go away).
    pub fn take_all(&mut self) -> Vec<Seen<K, C>> {
        let held = core::mem::take(&mut self.held);
        self.next_end = None;
        held.into_iter()
            .filter(|(_, held)| held.repeats > 0)
            .map(|(event, held)| Seen {
                event,
                count: held.repeats,
                last_at: held.last_at,
                client: held.client,
            })
            .collect()
    }

    /// When the earliest window holding repeats ends: the owner's timer, if it has one.
    pub fn deadline(&self) -> Option<UnixMillis> {
        self.held
            .iter()
            .map(|(_, held)| held)
            .filter(|held| held.repeats > 0)
            .map(|held| UnixMillis(held.window_start.0.saturating_add(self.window_ms)))
            .min()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    fn at(ms: u64) -> UnixMillis {
        UnixMillis(1_000_000 + ms)
    }

    /// The last client seen, for these tests.
    impl Observation for u32 {
        fn merge(&mut self, later: Self) {
            *self = later;
        }
    }

    fn counts(seen: &[Seen<&'static str, u32>]) -> Vec<(&'static str, u32)> {
        seen.iter().map(|s| (s.event, s.count)).collect()
    }

    #[test]
    fn the_first_goes_at_once_and_repeats_go_as_one_count_when_the_window_ends() {
        let mut repeats = Repeats::new(10_000, 100);
        assert_eq!(counts(&repeats.record("a", 1, at(0)).send), [("a", 1)]);
        // The first repeat says when to look again; the others need nothing.
        let first_repeat = repeats.record("a", 2, at(1));
        assert_eq!(first_repeat.look_again_at, Some(at(10_000)));
        assert!(first_repeat.send.is_empty());
        for n in 2..=5 {
            let later = repeats.record("a", 1 + n, at(n as u64));
            assert_eq!((later.send.len(), later.look_again_at), (0, None));
        }
        assert_eq!(repeats.deadline(), Some(at(10_000)));
        // One millisecond before the window ends, nothing; at its end, the five repeats,
        // with the last client and time.
        assert!(repeats.take_due(at(9_999)).is_empty());
        let due = repeats.take_due(at(10_000));
        assert_eq!(
            due,
            [Seen {
                event: "a",
                count: 5,
                last_at: at(5),
                client: 6
            }]
        );
        assert!(repeats.is_empty());
        // The next one starts a new window and goes at once again.
        assert_eq!(counts(&repeats.record("a", 9, at(10_001)).send), [("a", 1)]);
    }

    #[test]
    fn another_event_ends_the_windows_that_are_over() {
        let mut repeats = Repeats::new(1_000, 100);
        repeats.record("a", 0, at(0));
        repeats.record("a", 0, at(10));
        assert_eq!(counts(&repeats.record("b", 0, at(999)).send), [("b", 1)]);
        // At 1,000 a's window is over: its repeat goes with c's first occurrence.
        assert_eq!(
            counts(&repeats.record("c", 0, at(1_000)).send),
            [("a", 1), ("c", 1)]
        );
    }

    #[test]
    fn a_window_without_repeats_ends_quietly_and_is_forgotten() {
        let mut repeats = Repeats::new(1_000, 100);
        repeats.record("a", 0, at(0));
        assert_eq!(repeats.deadline(), None, "nothing to send later");
        // At the window's end, the same event is a first occurrence again: sent at once.
        assert_eq!(counts(&repeats.record("a", 0, at(1_000)).send), [("a", 1)]);
        assert!(repeats.take_due(at(2_000)).is_empty());
        assert!(repeats.is_empty());
    }

    #[test]
    fn past_its_bound_it_holds_nothing_more_and_sends_at_once() {
        let mut repeats = Repeats::new(10_000, 2);
        repeats.record("a", 0, at(0));
        repeats.record("b", 0, at(0));
        assert_eq!(counts(&repeats.record("c", 0, at(1)).send), [("c", 1)]);
        assert_eq!(counts(&repeats.record("c", 0, at(2)).send), [("c", 1)]);
        assert_eq!(counts(&repeats.record("a", 0, at(3)).send), []);
        assert_eq!(counts(&repeats.take_all()), [("a", 1)]);
        assert!(repeats.is_empty());
    }

    proptest! {
        /// Nothing lost, nothing counted twice: whatever the order and timing, the counts
        /// sent add up to the occurrences recorded, the held events stay bounded, and an
        /// owner that looks again only when told to still sends every repeat.
        #[test]
        fn every_occurrence_is_counted_exactly_once(
            steps in proptest::collection::vec((0u8..6, 0u64..3_000), 1..300),
            max_held in 1usize..5,
        ) {
            let names = ["a", "b", "c", "d", "e", "f"];
            let mut repeats = Repeats::new(1_000, max_held);
            let mut now = 0;
            let mut sent: BTreeMap<&str, u64> = BTreeMap::new();
            let mut recorded: BTreeMap<&str, u64> = BTreeMap::new();
            let mut last_look = at(0);
            for (event, advance) in steps {
                now += advance;
                let name = names[usize::from(event)];
                *recorded.entry(name).or_default() += 1;
                let recorded = repeats.record(name, 0u32, at(now));
                if let Some(end) = recorded.look_again_at {
                    prop_assert!(end > at(now));
                    last_look = last_look.max(end);
                }
                for seen in recorded.send {
                    *sent.entry(seen.event).or_default() += u64::from(seen.count);
                }
                prop_assert!(repeats.held.len() <= max_held);
            }
            // Looking again only when asked is enough: every held repeat is out by then.
            for seen in repeats.take_due(last_look.max(at(now))) {
                *sent.entry(seen.event).or_default() += u64::from(seen.count);
            }
            prop_assert_eq!(sent, recorded);
            prop_assert!(repeats.take_all().is_empty());
        }
    }
}
