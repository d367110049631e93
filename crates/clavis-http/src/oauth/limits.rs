//! Abuse limits of the token endpoint, per node: token buckets per client and per IP
//! address (429 with `Retry-After`), and a growing delay after repeated failed client
//! authentications, which makes guessing secrets slow without locking anyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many keys a table starts over (bounds memory under a flood of new keys).
const MAX_KEYS: usize = 100_000;
/// Failures before the delay starts, the first delay, and the longest one.
const FREE_FAILURES: u32 = 3;
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// A key's failures are forgotten after this long without one.
const FAILURE_MEMORY: Duration = Duration::from_secs(600);

/// A token bucket per key: `rate` requests per second, bursts up to `rate`.
pub struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `rate` 0 means no limit.
    pub fn new(rate: u32) -> Self {
        Self { rate: rate as f64, buckets: Mutex::default() }
    }

    /// `Err(seconds to wait)` when the key is over its rate.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate lock");
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets.clear();
        }
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((self.rate, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[derive(Default)]
pub struct FailedLogins {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailedLogins {
    /// Records a failure; returns how long to wait before answering it.
    pub fn failed(&self, key: &str) -> Duration {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("failures lock");
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.clear();
        }
        let entry = map.entry(key.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) > FAILURE_MEMORY {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = now;
        match entry.0.checked_sub(FREE_FAILURES + 1) {
            None => Duration::ZERO,
            Some(n) => FIRST_DELAY.saturating_mul(2u32.saturating_pow(n.min(16))).min(MAX_DELAY),
        }
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("failures lock").remove(key);
    }
}

/// The token endpoint's limits.
pub struct Limits {
    pub per_client: RateLimiter,
    pub per_ip: RateLimiter,
    pub failed_logins: FailedLogins,
}

impl Limits {
    pub fn new(per_client: u32, per_ip: u32) -> Self {
        Self { per_client: RateLimiter::new(per_client), per_ip: RateLimiter::new(per_ip), failed_logins: FailedLogins::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refuse_past_the_burst_and_say_when() {
        let r = RateLimiter::new(2);
        assert!(r.check("a").is_ok() && r.check("a").is_ok());
        assert_eq!(r.check("a"), Err(1));
        assert!(r.check("b").is_ok(), "keys are independent");
        assert!(RateLimiter::new(0).check("a").is_ok());
    }

    #[test]
    fn failures_grow_the_delay_and_success_resets_it() {
        let f = FailedLogins::default();
        let delays: Vec<Duration> = (0..6).map(|_| f.failed("c")).collect();
        assert_eq!(delays[..3], [Duration::ZERO; 3]);
        assert_eq!(delays[3], FIRST_DELAY);
        assert_eq!(delays[4], FIRST_DELAY * 2);
        assert_eq!(delays[5], FIRST_DELAY * 4);
        f.succeeded("c");
        assert_eq!(f.failed("c"), Duration::ZERO);
        for _ in 0..40 {
            f.failed("d");
        }
        assert_eq!(f.failed("d"), MAX_DELAY);
    }
}
