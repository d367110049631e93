//! Secret hashes made by Ory Hydra (ory/x `hasherx`), which an import from a Hydra database
//! brings in: BCrypt (`$2a$10$…`, Hydra's default) and PBKDF2
//! (`$pbkdf2-sha256$i=25000,l=32$<salt>$<key>`, base64 without padding). They are verified
//! as they are, so applications keep their secrets, and replaced by an argon2id hash on the
//! first successful use (see the service). Their cost is bounded here: a hash asking for more
//! work than [`MAX_BCRYPT_COST`] or [`MAX_PBKDF2_ITERATIONS`] is refused at import and never
//! verifies, so no stored row can make one request expensive.

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use subtle::ConstantTimeEq;

/// BCrypt's cost is log2 of its rounds: 10 is Hydra's default (~60 ms), 13 about 0.5 s.
pub const MAX_BCRYPT_COST: u32 = 13;
/// OWASP asks 600,000 for PBKDF2-HMAC-SHA256; Hydra's default is 25,000.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// BCrypt reads at most 72 bytes of a secret; Hydra refuses longer ones, and so do we.
const BCRYPT_MAX_SECRET: usize = 72;

/// A parsed imported hash, within the bounds.
enum Imported {
    Bcrypt { cost: u32 },
    Pbkdf2 { alg: ring::pbkdf2::Algorithm, iterations: std::num::NonZeroU32, salt: Vec<u8>, key: Vec<u8> },
}

fn parse(stored: &str) -> Option<Imported> {
    if let Some(rest) = ["$2a$", "$2b$", "$2y$"].iter().find_map(|p| stored.strip_prefix(p)) {
        // `$2a$` + two-digit cost + `$` + 22 characters of salt + 31 of hash.
        let (cost, body) = rest.split_once('$')?;
        let cost: u32 = if cost.len() == 2 { cost.parse().ok()? } else { return None };
        let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
        return ((4..=MAX_BCRYPT_COST).contains(&cost) && body.len() == 53 && body.bytes().all(alphabet)).then_some(Imported::Bcrypt { cost });
    }
    let rest = stored.strip_prefix("$pbkdf2-")?;
    let mut parts = rest.split('$');
    let (digest, params, salt, key) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let alg = match digest {
        "sha1" => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        "sha256" => ring::pbkdf2::PBKDF2_HMAC_SHA256,
        "sha384" => ring::pbkdf2::PBKDF2_HMAC_SHA384,
        "sha512" => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return None,
    };
    let (i, l) = params.split_once(',')?;
    let iterations: u32 = i.strip_prefix("i=")?.parse().ok()?;
    let length: usize = l.strip_prefix("l=")?.parse().ok()?;
    let (salt, key) = (B64.decode(salt).ok()?, B64.decode(key).ok()?);
    let iterations = std::num::NonZeroU32::new(iterations).filter(|n| n.get() <= MAX_PBKDF2_ITERATIONS)?;
    let fits = !salt.is_empty() && salt.len() <= 64 && (16..=64).contains(&key.len()) && key.len() == length;
    fits.then_some(Imported::Pbkdf2 { alg, iterations, salt, key })
}

/// Whether `stored` is a Hydra hash within the bounds.
pub fn is_imported(stored: &str) -> bool {
    parse(stored).is_some()
}

/// Whether `stored` looks like a Hydra hash at all (in or out of the bounds), so an import
/// can say why it refuses one.
pub fn looks_imported(stored: &str) -> bool {
    stored.starts_with("$2") || stored.starts_with("$pbkdf2-")
}

/// Verifies a presented secret against a Hydra hash, in constant time over the derived
/// key. Slow (a KDF): call it off the async threads.
pub fn verify(presented: &str, stored: &str) -> bool {
    match parse(stored) {
        Some(Imported::Bcrypt { cost }) => {
            if presented.len() > BCRYPT_MAX_SECRET {
                return false;
            }
            // `$2a$NN$`, 22 characters of salt, 31 of hash: the hash library re-derives the
            // string from the salt, and its hash part is compared in constant time (only
            // that part, as Go's bcrypt does, whatever unused bits the stored salt has).
            let Ok(salt) = bcrypt_salt(&stored[7..29]) else { return false };
            let Ok(parts) = bcrypt::hash_with_salt(presented.as_bytes(), cost, salt) else { return false };
            let derived = parts.format_for_version(version_of(stored));
            derived.len() == stored.len() && bool::from(derived.as_bytes()[29..].ct_eq(&stored.as_bytes()[29..]))
        }
        Some(Imported::Pbkdf2 { alg, iterations, salt, key }) => ring::pbkdf2::verify(alg, iterations, &salt, presented.as_bytes(), &key).is_ok(),
        None => false,
    }
}

fn version_of(stored: &str) -> bcrypt::Version {
    match &stored[..4] {
        "$2b$" => bcrypt::Version::TwoB,
        "$2y$" => bcrypt::Version::TwoY,
        _ => bcrypt::Version::TwoA,
    }
}

/// BCrypt's own base64 (`./A-Za-z0-9`, no padding) of the 16-byte salt: 22 characters,
/// whose last 4 bits are unused.
fn bcrypt_salt(encoded: &str) -> Result<[u8; 16], ()> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const SALT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::BCRYPT,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true).with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    SALT.decode(encoded).ok().and_then(|v| v.try_into().ok()).ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Python's `bcrypt` and `hashlib` (not by the code under test), in Hydra's formats.
    const BCRYPT_4: &str = "$2a$04$5lqWrg6hbghZV3U.rnze6OZ3QGyA/VZiY90r0Ltq1Net5MF./e5bW";
    const BCRYPT_10: &str = "$2a$10$xmWGlUjt4oN4mlNbfixcQOh35u9MWt8Vdh5awM/9AHTEUJOJylyEu";
    const PBKDF2_SHA256: &str = "$pbkdf2-sha256$i=25000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$C5bWkbtGQvEoH4D9HaZpRa++uTAOZykk5KaEqLxtKUA";
    const PBKDF2_SHA512: &str = "$pbkdf2-sha512$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$G3gCrazM5mvI7p//T91WTs9jvOZyGNteL1mEBtJmN0c";
    const PBKDF2_SHA1: &str = "$pbkdf2-sha1$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$ozBgjf8BWhpRQEmsEuRHxNwHDXpdzo3ADrGn3tnt2vY";

    #[test]
    fn hydra_bcrypt_hashes_verify() {
        for h in [BCRYPT_4, BCRYPT_10] {
            assert!(is_imported(h), "{h}");
            assert!(verify("hydra-secret-1", h), "{h}");
            assert!(!verify("hydra-secret-2", h));
            assert!(!verify("", h));
        }
        let b = BCRYPT_4.replacen("$2a$", "$2b$", 1);
        assert!(verify("hydra-secret-1", &b), "2b differs from 2a only in its prefix for short secrets");
    }

    #[test]
    fn hydra_pbkdf2_hashes_verify() {
        for h in [PBKDF2_SHA256, PBKDF2_SHA512, PBKDF2_SHA1] {
            assert!(is_imported(h), "{h}");
            assert!(verify("hydra-secret-2", h), "{h}");
            assert!(!verify("hydra-secret-1", h));
        }
    }

    #[test]
    fn costly_or_malformed_hashes_are_refused() {
        let expensive = BCRYPT_4.replacen("$04$", "$14$", 1);
        assert!(!is_imported(&expensive) && looks_imported(&expensive) && !verify("hydra-secret-1", &expensive));
        let many = PBKDF2_SHA256.replacen("i=25000", "i=5000000", 1);
        assert!(!is_imported(&many) && !verify("hydra-secret-2", &many));
        for bad in [
            "$2a$10$short",
            "$2a$1$xmWGlUjt4oN4mlNbfixcQOh35u9MWt8Vdh5awM/9AHTEUJOJylyEu",
            "$pbkdf2-md5$i=1000,l=32$MDEy$ozBgjf8BWhpRQEmsEuRHxNwHDXpdzo3ADrGn3tnt2vY",
            "$pbkdf2-sha256$i=0,l=32$MDEyMzQ1Njc4OWFiY2RlZg$C5bWkbtGQvEoH4D9HaZpRa++uTAOZykk5KaEqLxtKUA",
            "$pbkdf2-sha256$i=25000,l=31$MDEyMzQ1Njc4OWFiY2RlZg$C5bWkbtGQvEoH4D9HaZpRa++uTAOZykk5KaEqLxtKUA",
            "$pbkdf2-sha256$i=25000,l=32$$C5bWkbtGQvEoH4D9HaZpRa++uTAOZykk5KaEqLxtKUA",
            "$pbkdf2-sha256$i=25000,l=32$MDEy$C5bW$extra",
        ] {
            assert!(!is_imported(bad), "{bad}");
            assert!(!verify("hydra-secret-2", bad), "{bad}");
        }
        assert!(!verify(&"x".repeat(73), BCRYPT_4), "longer than bcrypt reads, as Hydra refuses");
    }
}
