//! OAuth scopes (RFC 6749 §3.3): space-delimited tokens of `%x21 / %x23-5B / %x5D-7E`.

pub fn is_valid_scope_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Splits a `scope` request parameter. `None` when a token is malformed.
pub fn parse_scope_param(s: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for tok in s.split(' ').filter(|t| !t.is_empty()) {
        if !is_valid_scope_token(tok) {
            return None;
        }
        if !out.iter().any(|t| t == tok) {
            out.push(tok.to_owned());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_dedupes() {
        assert_eq!(parse_scope_param("a b  a"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(parse_scope_param(""), Some(vec![]));
        assert_eq!(parse_scope_param("a\"b"), None);
        assert_eq!(parse_scope_param("a\\b"), None);
        assert!(is_valid_scope_token("api:read"));
    }
}
