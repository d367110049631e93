//! Client secrets. Generated secrets carry 256 bits from the OS RNG, so a single SHA-256
//! is the right hash at rest: no guessing attack is feasible and verifying costs
//! microseconds, not the milliseconds a password KDF would add to every token request.
//! Secrets chosen by a caller (the Hydra API allows it) may be weak, so they are hashed
//! with argon2id instead; callers cache a successful verification (see the service).

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq;

/// A freshly generated secret (43 base64url chars) — shown to the caller once.
pub fn generate() -> String {
    crate::ids::random_token(32)
}

/// What is stored: `sha256$<hex>`. The prefix leaves room for other schemes.
pub fn hash(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = digest(&SHA256, secret.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256$");
    for b in d.as_ref() {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
    out
}

/// Shortest and longest secret a caller may choose.
pub const MIN_SUPPLIED_LEN: usize = 6;
pub const MAX_SUPPLIED_LEN: usize = 512;

/// argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), as a PHC string.
fn argon2() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// The stored form of a caller-chosen secret: an argon2id PHC string (`$argon2id$…`).
/// Costs tens of milliseconds: call it off the async threads.
pub fn hash_supplied(secret: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&crate::ids::random_bytes::<16>()).expect("a 16-byte salt encodes");
    argon2().hash_password(secret.as_bytes(), &salt).expect("argon2 hashing failed").to_string()
}

/// Whether verifying against this stored hash is slow (a KDF), i.e. worth caching.
pub fn is_slow(stored: &str) -> bool {
    stored.starts_with("$argon2")
}

/// Verifies a presented secret against a stored hash: SHA-256 compared in constant time,
/// or argon2id (slow: call it off the async threads).
pub fn verify(presented: &str, stored: &str) -> bool {
    if is_slow(stored) {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        return PasswordHash::new(stored).is_ok_and(|h| argon2().verify_password(presented.as_bytes(), &h).is_ok());
    }
    let candidate = hash(presented);
    candidate.len() == stored.len() && bool::from(candidate.as_bytes().ct_eq(stored.as_bytes()))
}

/// The last four characters, kept for display (`secret_last_four`).
pub fn last_four(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Seals a secret with AES-256-GCM under the server's key, bound to `aad` (where the
/// secret belongs): `base64(nonce || ciphertext || tag)`. Only for client_secret_jwt,
/// whose HMAC key must be the secret itself.
pub fn seal(key: &[u8; 32], plaintext: &str, aad: &str) -> String {
    use base64::Engine;
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key"));
    let nonce: [u8; 12] = crate::ids::random_bytes();
    let mut buf = plaintext.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf)
        .expect("AES-GCM sealing failed");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Opens what [`seal`] made, if the key and `aad` are the same.
pub fn unseal(key: &[u8; 32], sealed: &str, aad: &str) -> Option<String> {
    use base64::Engine;
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let raw = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
    if raw.len() < 12 + 16 {
        return None;
    }
    let (nonce, body) = raw.split_at(12);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let mut buf = body.to_vec();
    let plain = key
        .open_in_place(Nonce::try_assume_unique_for_key(nonce).ok()?, Aad::from(aad.as_bytes()), &mut buf)
        .ok()?;
    String::from_utf8(plain.to_vec()).ok()
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

    #[test]
    fn supplied_secrets_use_argon2id() {
        let h = hash_supplied("hunter2");
        assert!(h.starts_with("$argon2id$") && is_slow(&h) && !h.contains("hunter2"));
        assert!(verify("hunter2", &h));
        assert!(!verify("hunter3", &h));
        assert_ne!(hash_supplied("hunter2"), h, "salted");
        assert!(!is_slow(&hash("x")));
    }

    #[test]
    fn sealing_round_trips_only_with_the_same_key_and_place() {
        let key = [7u8; 32];
        let sealed = seal(&key, "s3cret", "t/c/s1");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(unseal(&key, &sealed, "t/c/s1").as_deref(), Some("s3cret"));
        assert_eq!(unseal(&key, &sealed, "t/c/s2"), None, "bound to its row");
        assert_eq!(unseal(&[8u8; 32], &sealed, "t/c/s1"), None);
        assert_eq!(unseal(&key, "garbage", "t/c/s1"), None);
    }
}
