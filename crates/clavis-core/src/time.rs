//! Timestamps are unix seconds (`i64`) everywhere inside Clavis: they map to the same
//! `BIGINT`/`INTEGER` column on both databases. RFC 3339 exists only at the API edge.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Where the service reads the time. Injected, so tests can move it and reach every
/// expiry branch without waiting.
pub trait Clock: Send + Sync + 'static {
    /// Unix seconds.
    fn now_unix(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        now_unix()
    }
}

/// A clock that moves only when told (tests, simulations). Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl ManualClock {
    pub fn new(start: i64) -> Self {
        Self(std::sync::Arc::new(start.into()))
    }

    /// Moves the clock forward (or back, with a negative `secs`).
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `2026-04-15T10:30:00Z`: RFC 3339 in UTC with second precision.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH).format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(rfc3339(1_776_249_000), "2026-04-15T10:30:00Z");
        assert_eq!(parse_rfc3339("2026-04-15T10:30:00Z"), Some(1_776_249_000));
        assert_eq!(parse_rfc3339("2026-04-15T12:30:00+02:00"), Some(1_776_249_000));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new(1_000);
        let other = clock.clone();
        assert_eq!(clock.now_unix(), 1_000);
        other.advance(61);
        assert_eq!(clock.now_unix(), 1_061);
    }
}
