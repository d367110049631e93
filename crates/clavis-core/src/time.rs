//! Timestamps are unix seconds (`i64`) everywhere inside Clavis: they map to the same
//! `BIGINT`/`INTEGER` column on both databases. RFC 3339 exists only at the API edge.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
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
}
