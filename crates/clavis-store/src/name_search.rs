//! Which trigrams PostgreSQL's name search asks its index for.
//!
//! `LOWER(name) LIKE '%tenant app 0723456%'` hands the pg_trgm GIN index every trigram of the
//! pattern, and GIN checks each candidate of the rarest trigram against all the others: a
//! trigram that every name has ("app", "ten", …) costs its whole posting list, about 370 pages
//! at a million clients, however few names match. Measured at 1M clients: 15 ms for
//! `app 0723456`, 40 ms for `tenant app 0723456`, 0.5 ms for `0723456` alone.
//!
//! So for a large tenant the search asks the index for a few *rare* three-character windows of
//! the text only (`LIKE '%072%' AND LIKE '%345%'`), and matches the whole text against the rows
//! those return (`strpos`, which no index serves). What is rare comes from a sample of the
//! tenant's names, taken evenly over its `seq`s and kept a while per tenant, as a query planner
//! keeps its statistics. The sample only decides how the rows are found, never which rows
//! match: a stale or unlucky sample makes a search slower, not wrong.

use std::sync::Arc;
use std::time::Duration;

use clavis_core::TenantId;

use crate::db::Db;
use crate::{Result, Store};

/// Tenants with fewer live clients search with the whole pattern: their posting lists are short.
pub(crate) const SAMPLE_FROM: i64 = 10_000;
/// The sample: this many evenly spaced starting `seq`s, this many names from each.
const SAMPLE_RUNS: i64 = 250;
const SAMPLE_RUN_LEN: i64 = 4;
/// A sample is taken again after this long, or when the tenant has doubled or halved since.
const SAMPLE_TTL: Duration = Duration::from_secs(600);
/// Tenants whose samples are kept (each about 20 KiB).
const SAMPLE_TENANTS: u64 = 256;
/// At most this many windows go to the index; more only add posting lists to read.
const MAX_WINDOWS: usize = 4;
/// Windows looked at, from the start of the text (a long text has rare ones early enough).
const MAX_CONSIDERED: usize = 64;
/// Windows are added, rarest first, until this few candidate rows are expected.
const ENOUGH_CANDIDATES: f64 = 5.0;
/// A window in more than this share of the sample is not worth reading, once one is chosen.
const COMMON: f64 = 0.05;

/// A tenant's sampled names, lower-cased, and its live count when they were taken.
pub(crate) struct NameSample {
    names: Vec<String>,
    live: i64,
}

pub(crate) type NameSamples = moka::sync::Cache<TenantId, Arc<NameSample>>;

pub(crate) fn new_cache() -> NameSamples {
    moka::sync::Cache::builder().max_capacity(SAMPLE_TENANTS).time_to_live(SAMPLE_TTL).build()
}

/// The statement that takes a sample: `$2` holds the starting `seq`s.
const SAMPLE_SQL: &str = "SELECT s.name FROM UNNEST($2::BIGINT[]) AS r (start) CROSS JOIN LATERAL \
     (SELECT LOWER(name) AS name FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL AND seq >= r.start \
      ORDER BY seq LIMIT $3) AS s";
const SEQ_RANGE_SQL: &str = "SELECT MIN(seq), MAX(seq) FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL";

/// `SAMPLE_RUNS` starting points spread evenly over `[min, max]`.
fn sample_starts(min: i64, max: i64) -> Vec<i64> {
    let span = (max - min).max(0) as i128;
    (0..SAMPLE_RUNS).map(|i| min + (span * i as i128 / SAMPLE_RUNS as i128) as i64).collect()
}

impl NameSample {
    pub fn new(names: Vec<String>, live: i64) -> Self {
        NameSample { names, live }
    }

    /// Whether the tenant has grown or shrunk too much since for the sample to speak for it.
    pub fn outdated(&self, live: i64) -> bool {
        live > self.live.saturating_mul(2) || live.saturating_mul(2) < self.live
    }
}

/// The windows of `text` (lower-cased) to give the index, rarest first; empty means "use the
/// whole pattern". Only windows of three ASCII letters or digits: pg_trgm makes exactly that
/// one trigram of `%abc%`, whereas a space or punctuation splits the pattern into words and
/// pads them, and how it treats other letters depends on the database's locale.
fn rare_windows(text: &str, sample: &NameSample) -> Vec<String> {
    let n = sample.names.len();
    if n == 0 {
        return Vec::new();
    }
    // (position, window) of every window of letters and digits, first occurrence of each.
    let mut windows: Vec<(usize, &str)> = Vec::new();
    for (at, w) in text.as_bytes().windows(3).enumerate() {
        let word = w.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if word && !windows.iter().any(|(_, seen)| *seen == &text[at..at + 3]) {
            windows.push((at, &text[at..at + 3]));
            if windows.len() == MAX_CONSIDERED {
                break;
            }
        }
    }
    // A window the sample never saw is counted as half a name, so that estimates stay above 0.
    let share = |w: &str| (sample.names.iter().filter(|name| name.contains(w)).count() as f64).max(0.5) / n as f64;
    let scored: Vec<(usize, f64, &str)> = windows.into_iter().map(|(at, w)| (at, share(w), w)).collect();
    let live = sample.live.max(1) as f64;
    let rare: Vec<(usize, f64, &str)> = scored.iter().copied().filter(|w| w.1 <= COMMON).collect();
    let mut chosen: Vec<(usize, f64, &str)> = match disjoint_rarest(&rare, live) {
        Some(set) => set,
        // Every window is common: the rarest alone costs the least (the matches are many anyway).
        None => scored.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).into_iter().collect(),
    };
    // Windows that overlap the chosen ones still narrow them ("029" and "930" are "0293"), but
    // by their new characters only: a window adding one character counts for the cube root of
    // its share. Added, rarest first, while too many rows are expected.
    let mut expected: f64 = live * chosen.iter().map(|c| c.1).product::<f64>();
    let mut rest: Vec<(usize, f64, &str)> = rare.into_iter().filter(|w| !chosen.iter().any(|c| c.2 == w.2)).collect();
    rest.sort_by(|a, b| a.1.total_cmp(&b.1));
    for w in rest {
        if chosen.len() >= MAX_WINDOWS || expected <= ENOUGH_CANDIDATES {
            break;
        }
        let new = (w.0..w.0 + 3).filter(|p| !chosen.iter().any(|c| (c.0..c.0 + 3).contains(p))).count();
        expected *= w.1.powf(new as f64 / 3.0);
        chosen.push(w);
    }
    chosen.into_iter().map(|(_, _, w)| format!("%{w}%")).collect()
}

/// The fewest windows, none overlapping another, whose shares multiply to at most
/// [`ENOUGH_CANDIDATES`] rows of `live` (or the rarest set of [`MAX_WINDOWS`] if none does);
/// `None` if there are no windows. `windows` are in text order.
fn disjoint_rarest<'a>(windows: &[(usize, f64, &'a str)], live: f64) -> Option<Vec<(usize, f64, &'a str)>> {
    let len = windows.len();
    // best[m][i]: the least sum of log-shares of m disjoint windows taken from windows[i..].
    let mut best = vec![vec![f64::INFINITY; len + 1]; MAX_WINDOWS + 1];
    best[0] = vec![0.0; len + 1];
    let next = |i: usize| (i + 1..len).find(|&j| windows[j].0 >= windows[i].0 + 3).unwrap_or(len);
    for m in 1..=MAX_WINDOWS {
        for i in (0..len).rev() {
            best[m][i] = best[m][i + 1].min(windows[i].1.ln() + best[m - 1][next(i)]);
        }
    }
    let fits = |m: usize| best[m][0].is_finite() && live * best[m][0].exp() <= ENOUGH_CANDIDATES;
    let m = (1..=MAX_WINDOWS).find(|&m| fits(m)).or_else(|| (1..=MAX_WINDOWS).rev().find(|&m| best[m][0].is_finite()))?;
    // Walk the table back to the windows it chose.
    let (mut set, mut i, mut left) = (Vec::new(), 0, m);
    while left > 0 {
        if best[left][i] == best[left][i + 1] {
            i += 1;
        } else {
            set.push(windows[i]);
            i = next(i);
            left -= 1;
        }
    }
    Some(set)
}

/// The sample of `tenant` if one is at hand and still speaks for `live` clients.
fn cached(cache: &NameSamples, tenant: &TenantId, live: i64) -> Option<Arc<NameSample>> {
    cache.get(tenant).filter(|s| !s.outdated(live))
}

impl Store {
    /// PostgreSQL: the `LIKE` patterns the trigram index is asked for when searching `text`:
    /// a few rare windows of it in a large tenant, else the whole text.
    pub(crate) async fn name_index_patterns(&self, tenant: &TenantId, text: &str) -> Result<Vec<String>> {
        let whole = vec![crate::client_listing::like_pattern(text)];
        let Db::Postgres(pool) = &self.db else { return Ok(whole) };
        let live: i64 = sqlx::query_scalar("SELECT active + suspended FROM client_counts WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(pool)
            .await?
            .unwrap_or(0);
        if live < self.name_sample_from {
            return Ok(whole);
        }
        let sample = match cached(&self.name_samples, tenant, live) {
            Some(s) => s,
            None => {
                let (min, max): (Option<i64>, Option<i64>) = sqlx::query_as(SEQ_RANGE_SQL).bind(tenant.as_str()).fetch_one(pool).await?;
                let starts = sample_starts(min.unwrap_or(0), max.unwrap_or(0));
                let names: Vec<String> =
                    sqlx::query_scalar(SAMPLE_SQL).bind(tenant.as_str()).bind(&starts).bind(SAMPLE_RUN_LEN).fetch_all(pool).await?;
                let s = Arc::new(NameSample::new(names, live));
                self.name_samples.insert(tenant.clone(), s.clone());
                s
            }
        };
        let windows = rare_windows(&text.to_lowercase(), &sample);
        Ok(if windows.is_empty() { whole } else { windows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(names: &[&str], live: i64) -> NameSample {
        NameSample::new(names.iter().map(|s| s.to_string()).collect(), live)
    }

    #[test]
    fn skips_the_windows_every_name_has() {
        let names: Vec<String> = (0..1000).map(|i| format!("tenant app {:07}", i * 997)).collect();
        let s = NameSample::new(names, 1_000_000);
        let w = rare_windows("tenant app 0723456", &s);
        assert!(!w.is_empty() && w.len() <= MAX_WINDOWS, "{w:?}");
        for common in ["ten", "ena", "nan", "ant", "app", "000"] {
            assert!(!w.contains(&format!("%{common}%")), "{common} chosen: {w:?}");
        }
        // Every window chosen is part of the text.
        assert!(w.iter().all(|p| "tenant app 0723456".contains(p.trim_matches('%'))));
    }

    #[test]
    fn prefers_windows_that_do_not_overlap() {
        let names: Vec<String> = (0..1000).map(|i| format!("tenant app {:07}", i * 997)).collect();
        let s = NameSample::new(names, 1_000_000);
        let text = "app 0293058";
        let w = rare_windows(text, &s);
        let at: Vec<usize> = w.iter().map(|p| text.find(p.trim_matches('%')).unwrap()).collect();
        // Two windows apart come first; one overlapping them may follow, to narrow further.
        assert!(w.len() >= 2 && at[0].abs_diff(at[1]) >= 3, "{w:?}");
    }

    #[test]
    fn one_unseen_window_is_enough_for_a_small_tenant() {
        let s = sample(&["billing", "crm", "reports"], 12_000);
        assert_eq!(rare_windows("zzq", &s), vec!["%zzq%"]);
    }

    #[test]
    fn only_ascii_letters_and_digits_make_windows() {
        let s = sample(&["a"], 20_000);
        assert!(rare_windows("a b-c", &s).is_empty());
        assert!(rare_windows("应用管理", &s).is_empty());
        assert_eq!(rare_windows("x应用abc", &s), vec!["%abc%"]);
    }

    #[test]
    fn a_text_of_common_windows_still_gets_its_rarest() {
        let names: Vec<String> = (0..100).map(|_| "billing app".to_string()).collect();
        let s = NameSample::new(names, 50_000);
        assert_eq!(rare_windows("app", &s), vec!["%app%"]);
        assert_eq!(rare_windows("billing", &s).len(), 1);
    }

    #[test]
    fn a_sample_is_outdated_when_the_tenant_doubles_or_halves() {
        let s = sample(&["a"], 10_000);
        assert!(!s.outdated(19_999) && !s.outdated(5_000));
        assert!(s.outdated(20_001) && s.outdated(4_999));
    }

    #[test]
    fn starts_spread_over_the_range() {
        let s = sample_starts(100, 1100);
        assert_eq!(s.len(), SAMPLE_RUNS as usize);
        assert_eq!((s[0], s[1], *s.last().unwrap()), (100, 104, 1096));
        assert!(sample_starts(5, 5).iter().all(|&x| x == 5));
    }
}
