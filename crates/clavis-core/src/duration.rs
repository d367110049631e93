//! Durations in Go's notation (`1h`, `90m`, `1h30m`, `3600s`) as Hydra and our settings
//! use them; a bare number means seconds.

pub fn parse_seconds(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return (n >= 0).then_some(n);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * factor;
    }
    (total.is_finite() && total < i64::MAX as f64).then_some(total as i64)
}

/// Seconds as Go prints a `time.Duration`: `1h30m0s`, `5m0s`, `45s`, `0s`.
pub fn format_go(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::{format_go, parse_seconds};

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_seconds("3600"), Some(3600));
        assert_eq!(parse_seconds("1h"), Some(3600));
        assert_eq!(parse_seconds("1h30m"), Some(5400));
        assert_eq!(parse_seconds("90s"), Some(90));
        assert_eq!(parse_seconds("1.5h"), Some(5400));
        assert_eq!(parse_seconds("1500ms"), Some(1));
        assert_eq!(format_go(5400), "1h30m0s");
        assert_eq!(format_go(300), "5m0s");
        assert_eq!(format_go(7), "7s");
        for bad in ["", "h", "1x", "-5", "1h-3m", "abc"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }
}
