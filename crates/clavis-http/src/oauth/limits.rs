//! Abuse limits of the token endpoint, per node: token buckets per client and per client
//! IP address (429 with `Retry-After`), kept by `governor`. Failed client authentications
//! are accounted for in the service (`clavis_service::Services::authenticate`), on every
//! endpoint alike.
//!
//! Memory: a key whose bucket has refilled is indistinguishable from a key never seen, so
//! sweeps (`retain_recent`) drop exactly those and nothing else — no answer changes, and
//! a flood of new keys cannot wipe the buckets of the keys being limited. A sweep runs
//! every [`SWEEP_INTERVAL`], and as soon as the table holds [`MAX_KEYS`] keys (then at most
//! once per [`FULL_SWEEP_INTERVAL`]). A bucket refills within a second of its last
//! request, so the table holds at most [`MAX_KEYS`] keys or the distinct keys of the last
//! couple of seconds, whichever is more.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::Quota;

/// Past this many keys a sweep runs at once rather than at the next interval.
pub const MAX_KEYS: usize = 100_000;
/// How often refilled buckets are dropped.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// With a full table, sweeps run at most this often (each one visits every key).
pub const FULL_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

type Keyed<K, C> = governor::RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// A token bucket per key: `rate` requests per second, bursts up to `rate`.
pub struct RateLimiter<K: Hash + Eq + Clone, C: Clock + Clone = DefaultClock> {
    /// `None`: no limit.
    buckets: Option<Keyed<K, C>>,
    clock: C,
    /// The clock's reading at construction; the times below are nanoseconds after it.
    origin: C::Instant,
    /// When a request last looked at the table's size (at most once per
    /// [`FULL_SWEEP_INTERVAL`], by one request), and when it was last swept.
    last_look: AtomicU64,
    last_sweep: AtomicU64,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate` 0 means no limit.
    pub fn new(rate: u32) -> Self {
        Self::with_clock(rate, MAX_KEYS, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> RateLimiter<K, C> {
    fn with_clock(rate: u32, max_keys: usize, clock: C) -> Self {
        let buckets =
            NonZeroU32::new(rate).map(|r| governor::RateLimiter::new(Quota::per_second(r), DefaultKeyedStateStore::default(), clock.clone()));
        let origin = clock.now();
        Self { buckets, clock, origin, last_look: AtomicU64::new(0), last_sweep: AtomicU64::new(0), max_keys }
    }

    /// `Err(seconds to wait)` when the key is over its rate.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let Some(buckets) = &self.buckets else { return Ok(()) };
        self.sweep_if_due(buckets);
        buckets.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }

    /// Drops refilled buckets when a sweep is due. Once per [`FULL_SWEEP_INTERVAL`] one
    /// request looks (the others only read an atomic): it sweeps if the last sweep is
    /// [`SWEEP_INTERVAL`] old or the table is full.
    fn sweep_if_due(&self, buckets: &Keyed<K, C>) {
        let now = Duration::from(self.clock.now().duration_since(self.origin)).as_nanos() as u64;
        let looked = self.last_look.load(Ordering::Relaxed);
        if Duration::from_nanos(now.saturating_sub(looked)) < FULL_SWEEP_INTERVAL
            || self.last_look.compare_exchange(looked, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let since_sweep = Duration::from_nanos(now.saturating_sub(self.last_sweep.load(Ordering::Relaxed)));
        if since_sweep >= SWEEP_INTERVAL || buckets.len() >= self.max_keys {
            self.last_sweep.store(now, Ordering::Relaxed);
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.as_ref().map_or(0, |b| b.len())
    }
}

/// The token endpoint's limits.
pub struct Limits {
    /// Keyed by `tenant/client_id`.
    pub per_client: RateLimiter<String>,
    /// Keyed by the client's address (see [`crate::client_ip`]).
    pub per_ip: RateLimiter<IpAddr>,
}

impl Limits {
    pub fn new(per_client: u32, per_ip: u32) -> Self {
        Self { per_client: RateLimiter::new(per_client), per_ip: RateLimiter::new(per_ip) }
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn buckets_refuse_past_the_burst_and_say_when() {
        let r = RateLimiter::new(2);
        assert!(r.check(&"a").is_ok() && r.check(&"a").is_ok());
        assert_eq!(r.check(&"a"), Err(1));
        assert!(r.check(&"b").is_ok(), "keys are independent");
        assert!(RateLimiter::new(0).check(&"a").is_ok());
    }

    #[test]
    fn buckets_refill_at_the_rate_and_retry_after_rounds_up() {
        let clock = FakeRelativeClock::default();
        let r = RateLimiter::with_clock(1, MAX_KEYS, clock.clone());
        assert!(r.check(&"a").is_ok());
        assert_eq!(r.check(&"a"), Err(1));
        clock.advance(Duration::from_millis(999));
        assert_eq!(r.check(&"a"), Err(1), "a millisecond short is still a second to wait");
        clock.advance(Duration::from_millis(1));
        assert!(r.check(&"a").is_ok(), "one request per second");
        let r = RateLimiter::with_clock(1, MAX_KEYS, clock.clone());
        let _ = (r.check(&"b"), r.check(&"b"));
        assert_eq!(r.check(&"b"), Err(1));
    }

    #[test]
    fn a_flood_of_new_keys_never_resets_a_limited_key() {
        let clock = FakeRelativeClock::default();
        let max = 50;
        let r = RateLimiter::with_clock(10, max, clock.clone());
        let victim = "victim".to_owned();
        let burst = |r: &RateLimiter<String, FakeRelativeClock>| (0..20).take_while(|_| r.check(&victim).is_ok()).count();
        assert_eq!(burst(&r), 10, "a full bucket at first");
        // Each round: three times the table's size in new keys, then 0.3 s (3 tokens back).
        for round in 0..8 {
            for i in 0..max * 3 {
                let _ = r.check(&format!("flood-{round}-{i}"));
            }
            clock.advance(Duration::from_millis(300));
            assert_eq!(burst(&r), 3, "round {round}: the victim's bucket was kept, not reset to full");
        }
        assert!(r.len() < 8 * max * 3, "sweeps ran ({} keys left)", r.len());
    }

    #[test]
    fn sweeps_drop_refilled_buckets_only() {
        let clock = FakeRelativeClock::default();
        let max = 10;
        let r = RateLimiter::with_clock(2, max, clock.clone());
        for i in 0..max * 2 {
            let _ = r.check(&format!("idle-{i}"));
        }
        assert_eq!(r.len(), max * 2, "no sweep is due yet");
        clock.advance(FULL_SWEEP_INTERVAL);
        for _ in 0..2 {
            r.check(&"busy".to_owned()).expect("the burst");
        }
        assert_eq!(r.len(), 1, "the table was full: refilled buckets went, the busy one stays");
        assert!(r.check(&"busy".to_owned()).is_err(), "and still refuses");
        clock.advance(SWEEP_INTERVAL);
        r.check(&"other".to_owned()).expect("fresh key");
        assert_eq!(r.len(), 1, "the periodic sweep dropped the refilled busy key");
    }
}
