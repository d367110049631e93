use std::fmt;

/// A tenant id: `^[a-z0-9][a-z0-9_-]{0,62}$`. Only [`TenantId::parse`] makes one, so any
/// value of this type is safe to put in a path, a log line or an issuer URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub const DEFAULT: &'static str = "default";

    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-');
        ok.then(|| Self(s.to_owned()))
    }

    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_documented_shape() {
        for ok in ["default", "a", "0", "acme-corp", "t_1", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "-a", "_a", "A", "acme corp", "a/b", "é", &"a".repeat(64), "a.b"] {
            assert!(TenantId::parse(bad).is_none(), "{bad}");
        }
    }
}
