//! Failure accounting of client authentication, per node: after a few failures for one
//! client id, further attempts for it are refused at once (429 with `Retry-After`) until a
//! growing delay has passed, and only one attempt at a time is let through. The decision
//! is made before any secret is hashed, so guessing is slow on every endpoint that
//! authenticates clients, in series or in parallel, without costing the server work.
//!
//! A client that authenticates correctly is not slowed: keys with no failure are not
//! tracked at all, and a success forgets the key's failures.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures before the delay starts, the first delay, and the longest one.
pub(crate) const FREE_FAILURES: u32 = 3;
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// A key's failures are forgotten after this long without one.
const FAILURE_MEMORY: Duration = Duration::from_secs(600);
/// Keys remembered at most; past it the keys whose last failure is oldest are forgotten
/// first (never all at once, and never a key still being guessed at ahead of the flood:
/// a flood of new keys cannot wipe the delays of the keys under attack).
const MAX_KEYS: usize = 100_000;

struct Entry {
    failures: u32,
    last: Instant,
    blocked_until: Option<Instant>,
    in_flight: u32,
    /// Which place in the eviction queue is this entry's (its latest failure), to skip
    /// the stale ones.
    generation: u64,
}

/// Keys are kept as SHA-256 digests: 32 bytes each, whatever the id's length.
type Key = [u8; 32];

fn digest(key: &str) -> Key {
    ring::digest::digest(&ring::digest::SHA256, key.as_bytes()).as_ref().try_into().expect("SHA-256 is 32 bytes")
}

#[derive(Default)]
struct Table {
    entries: HashMap<Key, Entry>,
    /// Keys in the order of their latest failure: the eviction order.
    order: VecDeque<(Key, u64)>,
    next_generation: u64,
}

#[derive(Default)]
pub(crate) struct AuthFailures {
    table: Arc<Mutex<Table>>,
}

/// Held while an attempt for a key with failures runs; lets the next one in when dropped
/// (also when the request is cancelled).
pub(crate) struct Attempt {
    table: Arc<Mutex<Table>>,
    key: Option<Key>,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(key) = &self.key {
            if let Some(e) = self.table.lock().expect("failures lock").entries.get_mut(key) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
        }
    }
}

fn delay_after(failures: u32) -> Duration {
    match failures.checked_sub(FREE_FAILURES + 1) {
        None => Duration::ZERO,
        Some(n) => FIRST_DELAY.saturating_mul(2u32.saturating_pow(n.min(16))).min(MAX_DELAY),
    }
}

impl AuthFailures {
    /// May an attempt for `key` run now? `Err(wait)` when not.
    pub fn begin(&self, key: &str, now: Instant) -> Result<Attempt, Duration> {
        let key = digest(key);
        let mut table = self.table.lock().expect("failures lock");
        let Some(e) = table.entries.get_mut(&key) else {
            return Ok(Attempt { table: self.table.clone(), key: None });
        };
        if now.duration_since(e.last) > FAILURE_MEMORY {
            table.entries.remove(&key);
            return Ok(Attempt { table: self.table.clone(), key: None });
        }
        if let Some(until) = e.blocked_until.filter(|u| *u > now) {
            return Err(until - now);
        }
        // Under suspicion, parallel guesses are not let through together.
        let allowed = if e.failures > FREE_FAILURES { 1 } else { FREE_FAILURES };
        if e.in_flight >= allowed {
            return Err(delay_after(e.failures + 1).max(FIRST_DELAY));
        }
        e.in_flight += 1;
        Ok(Attempt { table: self.table.clone(), key: Some(key) })
    }

    pub fn succeeded(&self, key: &str) {
        self.table.lock().expect("failures lock").entries.remove(&digest(key));
    }

    /// Records a failure for `key`.
    pub fn failed(&self, key: &str, now: Instant) {
        let key = digest(key);
        let mut table = self.table.lock().expect("failures lock");
        if !table.entries.contains_key(&key) {
            table.make_room();
            table.entries.insert(key, Entry { failures: 0, last: now, blocked_until: None, in_flight: 0, generation: 0 });
        }
        // To the back of the queue: the latest failure decides when a key is forgotten.
        let generation = table.next_generation;
        table.next_generation += 1;
        table.order.push_back((key, generation));
        let e = table.entries.get_mut(&key).expect("recorded above");
        e.generation = generation;
        if now.duration_since(e.last) > FAILURE_MEMORY {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        let delay = delay_after(e.failures);
        if !delay.is_zero() {
            e.blocked_until = Some(now + delay);
        }
        table.compact();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().unwrap().entries.len()
    }
}

impl Table {
    /// Forgets the keys that failed longest ago until one more fits; drops stale queue
    /// places on the way.
    fn make_room(&mut self) {
        while self.entries.len() >= MAX_KEYS {
            let Some((key, generation)) = self.order.pop_front() else { break };
            if self.entries.get(&key).is_some_and(|e| e.generation == generation) {
                self.entries.remove(&key);
            }
        }
    }

    /// Repeated failures and successes leave stale places behind; drops them before the
    /// queue outgrows the table (amortized: once per `MAX_KEYS` failures at most).
    fn compact(&mut self) {
        if self.order.len() > 2 * MAX_KEYS {
            let entries = &self.entries;
            self.order.retain(|(k, g)| entries.get(k).is_some_and(|e| e.generation == *g));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_block_at_once_and_success_forgets_them() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            drop(f.begin("c", t0).expect("free failures"));
            f.failed("c", t0);
        }
        drop(f.begin("c", t0).expect("the 4th attempt still runs"));
        f.failed("c", t0);
        assert_eq!(f.begin("c", t0).err(), Some(FIRST_DELAY), "refused before any hashing");
        assert!(f.begin("c", t0 + FIRST_DELAY).is_ok(), "the window passed");
        f.failed("c", t0 + FIRST_DELAY);
        assert_eq!(f.begin("c", t0 + FIRST_DELAY).err(), Some(FIRST_DELAY * 2), "the delay doubles");
        assert!(f.begin("other", t0).is_ok(), "keys are independent");
        f.succeeded("c");
        assert!(f.begin("c", t0 + FIRST_DELAY).is_ok());
        let last = t0 + Duration::from_secs(39);
        for i in 0..40 {
            f.failed("d", t0 + Duration::from_secs(i));
        }
        assert_eq!(f.begin("d", last).err(), Some(MAX_DELAY));
        assert!(f.begin("d", last + FAILURE_MEMORY + Duration::from_secs(1)).is_ok(), "forgotten");
    }

    #[test]
    fn parallel_attempts_of_a_suspicious_key_are_let_through_one_at_a_time() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        let untracked: Vec<_> = (0..50).map(|_| f.begin("fresh", t0).expect("no failures: not limited")).collect();
        drop(untracked);
        for _ in 0..=FREE_FAILURES {
            f.failed("c", t0);
        }
        let later = t0 + MAX_DELAY;
        let first = f.begin("c", later).expect("the window is open");
        assert!(f.begin("c", later).is_err(), "a second one in parallel is refused");
        drop(first);
        assert!(f.begin("c", later).is_ok(), "the next one may run once the first is done");
    }

    #[test]
    fn a_flood_of_new_keys_evicts_the_oldest_not_all() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            f.failed("victim", t0);
        }
        for i in 0..MAX_KEYS + 10 {
            f.failed(&format!("flood-{i}"), t0);
        }
        assert_eq!(f.len(), MAX_KEYS);
        assert!(f.begin("flood-20", t0).is_ok(), "early flood keys went first");
        // The victim was the oldest and is gone too: that is the bound, not a wipe.
        let f = AuthFailures::default();
        for i in 0..MAX_KEYS - 1 {
            f.failed(&format!("flood-{i}"), t0);
        }
        for _ in 0..10 {
            f.failed("victim", t0);
        }
        for i in 0..MAX_KEYS / 2 {
            f.failed(&format!("more-{i}"), t0);
        }
        assert!(f.begin("victim", t0).is_err(), "a recent victim keeps its delay through a flood");
    }

    #[test]
    fn a_key_first_seen_early_but_failing_recently_survives_a_flood() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        // The victim is the first key recorded, then the table fills up.
        for _ in 0..=FREE_FAILURES {
            f.failed("victim", t0);
        }
        for i in 0..MAX_KEYS - 1 {
            f.failed(&format!("flood-{i}"), t0);
        }
        // The guessing goes on: the victim's latest failure is newer than the whole flood.
        let later = t0 + Duration::from_secs(1);
        f.failed("victim", later);
        for i in 0..MAX_KEYS / 2 {
            f.failed(&format!("more-{i}"), later);
        }
        assert_eq!(f.len(), MAX_KEYS);
        assert_eq!(f.begin("victim", later).err(), Some(FIRST_DELAY * 2), "the 5th failure's delay is intact");
        assert!(f.begin("flood-0", later).is_ok(), "keys whose last failure is oldest went first");
    }
}
