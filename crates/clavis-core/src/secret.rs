//! Client secrets. Generated secrets carry 256 bits from the OS RNG, so a single SHA-256
//! is the right hash at rest: no guessing attack is feasible and verifying costs
//! microseconds, not the milliseconds a password KDF would add to every token request.
//! Secrets chosen by a caller (the Hydra API allows it) may be weak, so they are hashed
//! with argon2id instead; callers cache a successful verification (see the service).

use crate::imported_hash;
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
const ARGON2_M_KIB: u32 = 19 * 1024;

fn argon2_with(params: argon2::Params) -> argon2::Argon2<'static> {
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

fn argon2() -> argon2::Argon2<'static> {
    argon2_with(argon2::Params::new(ARGON2_M_KIB, 2, 1, None).expect("valid argon2 parameters"))
}

/// The working memory of one argon2id computation (19 MiB). The service allocates one per
/// verification, at most a few at a time (its KDF bound), and frees it after; the server
/// binary keeps such blocks mmapped (see its `tune_allocator`), since blocks that
/// glibc's per-thread arenas kept once let a flood of wrong secrets grow the process by
/// gigabytes.
pub struct KdfMemory(Vec<argon2::Block>);

impl KdfMemory {
    pub fn new() -> Self {
        Self(vec![argon2::Block::new(); ARGON2_M_KIB as usize])
    }
}

impl Default for KdfMemory {
    fn default() -> Self {
        Self::new()
    }
}

/// The stored form of a caller-chosen secret: an argon2id PHC string (`$argon2id$…`).
/// Costs tens of milliseconds: call it off the async threads.
pub fn hash_supplied(secret: &str, mem: &mut KdfMemory) -> String {
    use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
    let salt = SaltString::encode_b64(&crate::ids::random_bytes::<16>()).expect("a 16-byte salt encodes");
    let mut raw_salt = [0u8; 16];
    let salt_bytes = salt.decode_b64(&mut raw_salt).expect("the salt decodes");
    let mut out = [0u8; 32];
    argon2().hash_password_into_with_memory(secret.as_bytes(), salt_bytes, &mut out, &mut mem.0).expect("argon2 hashing failed");
    let params: ParamsString = argon2().params().try_into().expect("argon2 parameters encode");
    let hash = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("a 32-byte output")),
    };
    hash.to_string()
}

/// Whether `stored` is a hash this module verifies: `sha256$` and 64 lowercase hex digits,
/// an argon2id PHC string, or a Hydra hash within its bounds (what an import may bring in).
pub fn is_stored_hash(stored: &str) -> bool {
    if let Some(hex) = stored.strip_prefix("sha256$") {
        return hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    }
    imported_hash::is_imported(stored) || argon2::password_hash::PasswordHash::new(stored).is_ok_and(|h| h.algorithm.as_str() == "argon2id")
}

/// Whether verifying against this stored hash is slow (a KDF), i.e. worth caching.
pub fn is_slow(stored: &str) -> bool {
    stored.starts_with("$argon2") || needs_rehash(stored)
}

/// Whether this stored hash came from elsewhere (Hydra's BCrypt or PBKDF2) and is to be
/// replaced by [`hash_supplied`] once a secret verified against it.
pub fn needs_rehash(stored: &str) -> bool {
    imported_hash::looks_imported(stored)
}

/// Verifies a presented secret against a stored SHA-256 hash, in constant time. A slow
/// (argon2id) hash never verifies here: see [`verify_slow`].
pub fn verify(presented: &str, stored: &str) -> bool {
    if is_slow(stored) {
        return false;
    }
    let candidate = hash(presented);
    candidate.len() == stored.len() && bool::from(candidate.as_bytes().ct_eq(stored.as_bytes()))
}

/// Verifies a presented secret against an argon2id PHC string in `mem`. A stored hash
/// asking for more memory than one [`KdfMemory`] holds never verifies. Slow: call it
/// off the async threads.
pub fn verify_slow(presented: &str, stored: &str, mem: &mut KdfMemory) -> bool {
    use argon2::password_hash::PasswordHash;
    if needs_rehash(stored) {
        return imported_hash::verify(presented, stored);
    }
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    if parsed.algorithm != argon2::Algorithm::Argon2id.ident() {
        return false;
    }
    let (Ok(params), Some(salt), Some(expected)) = (argon2::Params::try_from(&parsed), parsed.salt, parsed.hash) else {
        return false;
    };
    if params.block_count() > mem.0.len() || params.t_cost() > 10 {
        return false;
    }
    let mut raw_salt = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut raw_salt) else { return false };
    let mut out = [0u8; 64];
    let out = &mut out[..expected.len()];
    argon2_with(params).hash_password_into_with_memory(presented.as_bytes(), salt, out, &mut mem.0).is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

/// The cost of a failed verification against an SHA-256 hash, for ids that match no
/// client: so an unknown id takes as long to refuse as a known one with a wrong secret.
pub fn dummy_verify(presented: &str) {
    const DUMMY: &str = "sha256$0000000000000000000000000000000000000000000000000000000000000000";
    let _ = std::hint::black_box(verify(presented, DUMMY));
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
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf).expect("AES-GCM sealing failed");
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
    let plain = key.open_in_place(Nonce::try_assume_unique_for_key(nonce).ok()?, Aad::from(aad.as_bytes()), &mut buf).ok()?;
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
        let mem = &mut KdfMemory::new();
        let h = hash_supplied("hunter2", mem);
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$") && is_slow(&h) && !h.contains("hunter2"), "{h}");
        assert!(verify_slow("hunter2", &h, mem));
        assert!(!verify_slow("hunter3", &h, mem));
        assert!(!verify("hunter2", &h), "a slow hash never verifies on the fast path");
        assert_ne!(hash_supplied("hunter2", mem), h, "salted");
        assert!(!is_slow(&hash("x")));
    }

    #[test]
    fn slow_hashes_made_elsewhere_verify_and_oversized_ones_are_refused() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let standard = argon2().hash_password(b"hunter2", &salt).unwrap().to_string();
        let mem = &mut KdfMemory::new();
        assert!(verify_slow("hunter2", &standard, mem), "a PHC string of the argon2 crate itself");
        let big = argon2::Params::new(64 * 1024, 2, 1, None).unwrap();
        let greedy = argon2_with(big).hash_password(b"hunter2", &salt).unwrap().to_string();
        assert!(!verify_slow("hunter2", &greedy, mem), "more memory than a KdfMemory holds");
        assert!(!verify_slow("hunter2", "$argon2id$garbage", mem));
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
