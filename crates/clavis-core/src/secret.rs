//! Client secrets. Generated secrets carry 256 bits from the OS RNG, so a single SHA-256
//! is the right hash at rest: no guessing attack is feasible and verifying costs
//! microseconds, not the milliseconds a password KDF would add to every token request.

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq;

/// A freshly generated secret (43 base64url chars) — shown to the caller once.
pub fn generate() -> String {
    crate::ids::random_token(32)
}

/// What is stored: `sha256$<hex>`. The prefix leaves room for other schemes.
pub fn hash(secret: &str) -> String {
    let d = digest(&SHA256, secret.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256$");
    for b in d.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Constant-time comparison of a presented secret against a stored hash.
pub fn verify(presented: &str, stored: &str) -> bool {
    let candidate = hash(presented);
    candidate.len() == stored.len() && bool::from(candidate.as_bytes().ct_eq(stored.as_bytes()))
}

/// The last four characters, kept for display (`secret_last_four`).
pub fn last_four(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_and_verify() {
        let s = generate();
        assert_eq!(s.len(), 43);
        let h = hash(&s);
        assert!(h.starts_with("sha256$") && !h.contains(&s));
        assert!(verify(&s, &h));
        assert!(!verify(&format!("{s}x"), &h));
        assert!(!verify("", &h));
        assert_eq!(last_four("abcdef"), "cdef");
        assert_eq!(last_four("ab"), "ab");
    }
}
