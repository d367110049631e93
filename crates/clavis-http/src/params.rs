//! The one reader of query strings and `application/x-www-form-urlencoded` bodies: every
//! surface parses its parameters here, so the limits hold everywhere. Linear in the input
//! (a 64 KiB body of repeated names once cost 0.2 s of CPU through a quadratic check).

use std::collections::HashSet;

pub use clavis_core::form::MAX_PARAMS;

#[derive(Debug)]
pub enum ParamsError {
    TooMany,
    Repeated(String),
    Nul(String),
}

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooMany => write!(f, "too many parameters (at most {MAX_PARAMS})"),
            Self::Repeated(name) => write!(f, "parameter {name:?} is repeated"),
            // PostgreSQL refuses NUL in text, so it would fail a query (a 500).
            Self::Nul(name) => write!(f, "parameter {name:?} must not contain NUL characters"),
        }
    }
}

/// The pairs of `raw`, in order. `unique`: a repeated name is refused (RFC 6749 §3.1).
pub fn parse(raw: &[u8], unique: bool) -> Result<Vec<(String, String)>, ParamsError> {
    let mut pairs = Vec::new();
    for (k, v) in form_urlencoded::parse(raw) {
        if pairs.len() == MAX_PARAMS {
            return Err(ParamsError::TooMany);
        }
        if k.contains('\0') || v.contains('\0') {
            return Err(ParamsError::Nul(k.replace('\0', "")));
        }
        pairs.push((k.into_owned(), v.into_owned()));
    }
    if unique {
        let mut seen = HashSet::with_capacity(pairs.len());
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
            return Err(ParamsError::Repeated(k.clone()));
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(parse(b"a=1&b=2&a=3", false).unwrap().len(), 3);
        assert!(matches!(parse(b"a=1&b=2&a=3", true), Err(ParamsError::Repeated(k)) if k == "a"));
        assert!(matches!(parse(b"a=%00", false), Err(ParamsError::Nul(_))));
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=x")).collect();
        assert!(matches!(parse(many.join("&").as_bytes(), true), Err(ParamsError::TooMany)));
        assert_eq!(parse(many[..MAX_PARAMS].join("&").as_bytes(), true).unwrap().len(), MAX_PARAMS);
    }
}
