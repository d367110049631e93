//! The users file and password checks. A user is `{username, password_hash, email, name}`;
//! `password_hash` is an argon2id hash in PHC string format
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), as printed by `hash-password`.
//!
//! File formats: TOML with a `[[users]]` array of tables, or JSON (a `.json` file): a list
//! of users, or `{"users": [...]}`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Deserialize;

/// One entry of the users file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password_hash: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Further standard claims (OpenID Connect Core §5.1): `given_name`, `email_verified`,
    /// `phone_number`, `address` (an object), `locale`, …
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersTable {
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonUsers {
    List(Vec<User>),
    Table(UsersTable),
}

/// The users, by username.
pub struct Users {
    by_name: HashMap<String, User>,
    /// Checked when the username is unknown, so that a wrong username takes as long as a
    /// wrong password.
    dummy_hash: String,
}

impl Users {
    /// Reads a users file: JSON when the name ends in `.json`, TOML otherwise.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let parsed = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) { Self::from_json(&text) } else { Self::from_toml(&text) };
        parsed.with_context(|| format!("in {}", path.display()))
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let table: UsersTable = toml::from_str(text).context("parsing TOML")?;
        Self::new(table.users)
    }

    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let users = match serde_json::from_str(text).context("parsing JSON")? {
            JsonUsers::List(users) | JsonUsers::Table(UsersTable { users }) => users,
        };
        Self::new(users)
    }

    /// Checks every hash (argon2id, valid PHC string) and that usernames are unique.
    pub fn new(users: Vec<User>) -> anyhow::Result<Self> {
        let mut by_name = HashMap::new();
        let mut params = None;
        for user in users {
            if user.username.is_empty() || user.username.chars().any(char::is_control) {
                bail!("user {:?}: the username must be non-empty printable text", user.username);
            }
            let hash = PasswordHash::new(&user.password_hash)
                .map_err(|e| anyhow::anyhow!("user {:?}: password_hash is not a PHC string: {e}", user.username))?;
            if hash.algorithm.as_str() != "argon2id" {
                bail!("user {:?}: password_hash must be argon2id, not {}", user.username, hash.algorithm);
            }
            let p = Params::try_from(&hash).map_err(|e| anyhow::anyhow!("user {:?}: argon2 parameters: {e}", user.username))?;
            params.get_or_insert(p);
            if let Some(k) = user.claims.keys().find(|k| !crate::claims::is_standard(k) || *k == "email" || *k == "name") {
                bail!("user {:?}: claims.{k} is not a standard claim (email and name have their own fields)", user.username);
            }
            if by_name.contains_key(&user.username) {
                bail!("user {:?} is listed twice", user.username);
            }
            by_name.insert(user.username.clone(), user);
        }
        // The dummy costs the same as a real user's hash.
        let dummy_hash = hash_password_with(&random_b64(32), params.unwrap_or_default())?;
        Ok(Self { by_name, dummy_hash })
    }

    pub fn get(&self, username: &str) -> Option<&User> {
        self.by_name.get(username)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The user, if the password is theirs. Slow by design (argon2): call it from
    /// `spawn_blocking`. Unknown usernames cost as much as wrong passwords.
    pub fn verify(&self, username: &str, password: &str) -> Option<&User> {
        let user = self.by_name.get(username);
        let hash = user.map_or(self.dummy_hash.as_str(), |u| u.password_hash.as_str());
        let ok = PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
        user.filter(|_| ok)
    }
}

/// An argon2id hash of `password` with the default (OWASP) parameters: 19 MiB, t=2, p=1.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    hash_password_with(password, Params::default())
}

/// An argon2id hash with the given cost parameters (tests use cheap ones).
pub fn hash_password_with(password: &str, params: Params) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    Ok(hash.to_string())
}

pub(crate) fn fill_random(buf: &mut [u8]) {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new().fill(buf).expect("the system random number generator works");
}

/// `n` random bytes, base64url without padding.
pub(crate) fn random_b64(n: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Params {
        Params::new(8, 1, 1, None).unwrap()
    }

    #[test]
    fn verify_accepts_the_right_password_only() {
        let hash = hash_password_with("wonderland", cheap()).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
        let users =
            Users::new(vec![User { username: "alice".into(), password_hash: hash, email: None, name: None, claims: Default::default() }]).unwrap();
        assert_eq!(users.verify("alice", "wonderland").map(|u| u.username.as_str()), Some("alice"));
        assert!(users.verify("alice", "Wonderland").is_none());
        assert!(users.verify("bob", "wonderland").is_none());
        assert!(users.verify("", "").is_none());
    }

    #[test]
    fn files_in_both_formats_and_bad_entries() {
        let hash = hash_password_with("pw", cheap()).unwrap();
        let toml = format!("[[users]]\nusername = \"alice\"\npassword_hash = \"{hash}\"\nemail = \"a@example.com\"\n");
        assert_eq!(Users::from_toml(&toml).unwrap().get("alice").unwrap().email.as_deref(), Some("a@example.com"));
        let json = format!(r#"[{{"username":"bob","password_hash":"{hash}","name":"Bob"}}]"#);
        assert_eq!(Users::from_json(&json).unwrap().get("bob").unwrap().name.as_deref(), Some("Bob"));
        let json = format!(r#"{{"users":[{{"username":"bob","password_hash":"{hash}"}}]}}"#);
        assert_eq!(Users::from_json(&json).unwrap().len(), 1);

        let twice = format!("{toml}{toml}");
        assert!(Users::from_toml(&twice).is_err(), "duplicate username");
        assert!(Users::from_toml("[[users]]\nusername = \"a\"\npassword_hash = \"plaintext\"\n").is_err());
        let argon2i = "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(Users::from_toml(&format!("[[users]]\nusername = \"a\"\npassword_hash = \"{argon2i}\"\n")).is_err());
        assert!(Users::from_toml(&format!("[[users]]\nusername = \"a\"\npassword = \"{hash}\"\n")).is_err(), "typo'd field");
    }

    #[test]
    fn the_example_users_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("users.example.toml");
        let users = Users::load(&path).unwrap();
        assert!(users.get("alice").is_some() && users.get("bob").is_some());
        // The passwords the README documents.
        assert!(users.verify("alice", "wonderland").is_some());
        assert!(users.verify("bob", "builder").is_some());
    }
}
