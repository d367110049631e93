//! OAuth request parameters: the decoded `application/x-www-form-urlencoded` pairs of a
//! request (or its query), each name at most once, as the HTTP layer parsed them.

/// More parameters than any request of ours has: beyond it a request (its form, its
/// query, or its request object's claims) is refused.
pub const MAX_PARAMS: usize = 100;

/// A parameter's value. An empty value counts as absent (RFC 6749 §3.1: "parameters sent
/// without a value MUST be treated as if they were omitted from the request").
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::param;

    #[test]
    fn empty_is_absent() {
        let p = vec![("a".to_owned(), "1".to_owned()), ("b".to_owned(), String::new())];
        assert_eq!(param(&p, "a"), Some("1"));
        assert_eq!(param(&p, "b"), None);
        assert_eq!(param(&p, "c"), None);
    }
}
