//! Identifiers and random values, all drawn from the operating system's CSPRNG.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    SystemRandom::new().fill(&mut buf).expect("the OS random number generator failed");
    buf
}

/// `n` random bytes as unpadded base64url.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    SystemRandom::new().fill(&mut buf).expect("the OS random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32 (26 chars).
/// Sorts by creation time, which gives lists a stable, meaningful order. Within one
/// process ids are strictly increasing: in the same millisecond the previous id's random
/// part is incremented (the ULID spec's monotonic mode).
pub fn ulid() -> String {
    use std::sync::Mutex;
    static LAST: Mutex<u128> = Mutex::new(0);
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let rand: [u8; 10] = random_bytes();
    let mut value: u128 = (millis & ((1 << 48) - 1)) << 80;
    for (i, b) in rand.iter().enumerate() {
        value |= (*b as u128) << (72 - 8 * i);
    }
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if value >> 80 <= *last >> 80 {
            value = *last + 1;
        }
        *last = value;
    }
    (0..26).map(|i| ALPHABET[((value >> (125 - 5 * i)) & 0x1f) as usize] as char).collect()
}

/// Whether `s` could name a client (or another record looked up by id): 1 to 128
/// characters, none of them control characters. Anything else cannot exist, and must not
/// reach a database (PostgreSQL refuses NUL in text).
pub fn is_plausible_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control)
}

/// Server-generated `client_id`: 128 random bits, URL-safe.
pub fn new_client_id() -> String {
    random_token(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_are_26_chars_and_strictly_increasing() {
        let a = ulid();
        let b = ulid();
        assert_eq!(a.len(), 26);
        assert!(a < b, "{a} !< {b}");
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn plausible_ids() {
        assert!(is_plausible_id("my-service") && is_plausible_id(&"a".repeat(128)));
        for bad in ["", "a\u{0}b", "tab\there", &"a".repeat(129)] {
            assert!(!is_plausible_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn client_ids_are_url_safe_and_distinct() {
        let a = new_client_id();
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, new_client_id());
    }
}
