//! Abuse limits of the token endpoint, per node: token buckets per client and per IP
//! address (429 with `Retry-After`). Failed client authentications are accounted for in
//! the service (`clavis_service::Services::authenticate`), on every endpoint alike.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Past this many keys a table starts over (bounds memory under a flood of new keys).
const MAX_KEYS: usize = 100_000;
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

/// The token endpoint's limits.
pub struct Limits {
    pub per_client: RateLimiter,
    pub per_ip: RateLimiter,
}

impl Limits {
    pub fn new(per_client: u32, per_ip: u32) -> Self {
        Self { per_client: RateLimiter::new(per_client), per_ip: RateLimiter::new(per_ip) }
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
}
