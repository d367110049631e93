//! A tenant's clients as JSON Lines, out and back in (`clavis client export|import`).
//!
//! Each line is the client as Ory Hydra shows it (`OAuth2Client`), so Hydra tooling and
//! people can read it, plus one member Hydra's format has no place for: `clavis`, the
//! client exactly as stored (authms fields, status, every auth method) with its secrets'
//! *hashes* — never a plaintext secret. Import is idempotent by `client_id`: a client that
//! exists is replaced (or left alone when nothing differs). A line without `clavis` (a
//! Hydra client, e.g. from `hydra list clients`) is built with the Hydra API's rules.

use clavis_core::{ids, secret, AuthMethod, Client, ClientExtras, ClientStatus, FapiProfile, GrantType, TenantId, ValidationError};
use clavis_store::{ImportItem, ImportOutcome, SecretRecord, SecretStatus};
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hydra_rows::SECRET_HASHES;
use crate::registry::audit;
use crate::{hydra_client, Actor, Services};

/// The client as stored, in an export line's `clavis` member.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    id: String,
    name: String,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
    grant_types: Vec<String>,
    auth_methods: Vec<String>,
    is_confidential: bool,
    jwks: String,
    jwks_uri: String,
    fapi_profile: String,
    logo_url: String,
    privacy_policy: String,
    terms_url: String,
    website: String,
    cors_origins: Vec<String>,
    status: String,
    created_at: i64,
    updated_at: i64,
    owner: String,
    extras: ClientExtras,
    secrets: Vec<SecretLine>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretLine {
    secret_id: String,
    /// `sha256$…` or an argon2id PHC string.
    secret_hash: String,
    last_four: String,
    description: String,
    status: String,
    created_at: i64,
    updated_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    /// client_secret_jwt only: sealed with the exporting server's key (see docs/operations.md).
    sealed: Option<String>,
}

/// What an import did, line by line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Lines whose `client_id` was deleted here: ids are never reused.
    pub deleted: Vec<(u64, String)>,
    /// Lines refused, with their number (from 1) and why.
    pub refused: Vec<(u64, String)>,
}

impl ImportReport {
    pub fn lines(&self) -> u64 {
        self.created + self.updated + self.unchanged + self.deleted.len() as u64 + self.refused.len() as u64
    }
}

fn names<T: Copy>(v: &[T], name: fn(T) -> &'static str) -> Vec<String> {
    v.iter().map(|x| name(*x).to_owned()).collect()
}

fn parsed<T>(v: &[String], field: &'static str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, ValidationError> {
    v.iter().map(|s| parse(s).ok_or_else(|| ValidationError::new(field, format!("{s:?} is not supported")))).collect()
}

fn record(c: &Client, secrets: &[SecretRecord]) -> Record {
    Record {
        id: c.id.clone(),
        name: c.name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        scopes: c.scopes.clone(),
        grant_types: names(&c.grant_types, GrantType::as_str),
        auth_methods: names(&c.auth_methods, AuthMethod::as_str),
        is_confidential: c.is_confidential,
        jwks: c.jwks.clone(),
        jwks_uri: c.jwks_uri.clone(),
        fapi_profile: c.fapi_profile.as_str().to_owned(),
        logo_url: c.logo_url.clone(),
        privacy_policy: c.privacy_policy.clone(),
        terms_url: c.terms_url.clone(),
        website: c.website.clone(),
        cors_origins: c.cors_origins.clone(),
        status: c.status.as_str().to_owned(),
        created_at: c.created_at,
        updated_at: c.updated_at,
        owner: c.owner.clone(),
        extras: c.extras.clone(),
        secrets: secrets
            .iter()
            .map(|s| SecretLine {
                secret_id: s.secret_id.clone(),
                secret_hash: s.secret_hash.clone(),
                last_four: s.last_four.clone(),
                description: s.description.clone(),
                status: s.status.as_str().to_owned(),
                created_at: s.created_at,
                updated_at: s.updated_at,
                expires_at: s.expires_at,
                last_used_at: s.last_used_at,
                sealed: s.sealed.clone(),
            })
            .collect(),
    }
}

/// A stored client (and its secrets) back from a `clavis` member, checked as a create is.
fn from_record(t: &TenantId, client_id: &str, r: Record) -> Result<(Client, Vec<SecretRecord>), ValidationError> {
    let mut c = Client::blank(t.clone(), client_id.to_owned());
    if r.id.len() != 26 || !r.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ValidationError::new("clavis.id", "must be a ULID"));
    }
    c.id = r.id;
    c.name = r.name;
    c.redirect_uris = r.redirect_uris;
    c.scopes = r.scopes;
    c.grant_types = parsed(&r.grant_types, "grant_types", GrantType::parse)?;
    c.auth_methods = parsed(&r.auth_methods, "auth_methods", AuthMethod::parse)?;
    c.is_confidential = r.is_confidential;
    c.jwks = r.jwks;
    c.jwks_uri = r.jwks_uri;
    c.fapi_profile = FapiProfile::parse(&r.fapi_profile).ok_or_else(|| ValidationError::new("fapi_profile", "is not supported"))?;
    c.logo_url = r.logo_url;
    c.privacy_policy = r.privacy_policy;
    c.terms_url = r.terms_url;
    c.website = r.website;
    c.cors_origins = r.cors_origins;
    c.status = ClientStatus::parse(&r.status).ok_or_else(|| ValidationError::new("status", "must be active or suspended"))?;
    c.created_at = r.created_at;
    c.updated_at = r.updated_at;
    c.owner = r.owner;
    c.extras = r.extras;
    c.validate()?;
    let mut secrets = Vec::with_capacity(r.secrets.len());
    for s in r.secrets {
        if !secret::is_stored_hash(&s.secret_hash) {
            return Err(ValidationError::new("secrets.secret_hash", "must be a sha256$ or argon2id hash (plaintext is never imported)"));
        }
        let status = match s.status.as_str() {
            "active" => SecretStatus::Active,
            "expiring" => SecretStatus::Expiring,
            _ => return Err(ValidationError::new("secrets.status", "must be active or expiring")),
        };
        if s.secret_id.is_empty() || s.secret_id.len() > 64 {
            return Err(ValidationError::new("secrets.secret_id", "must be 1 to 64 characters"));
        }
        secrets.push(SecretRecord {
            secret_id: s.secret_id,
            client_id: c.client_id.clone(),
            secret_hash: s.secret_hash,
            last_four: s.last_four.chars().take(4).collect(),
            description: s.description,
            status,
            created_at: s.created_at,
            updated_at: s.updated_at,
            expires_at: s.expires_at,
            last_used_at: s.last_used_at,
            sealed: s.sealed,
        });
    }
    if !c.is_confidential && !secrets.is_empty() {
        return Err(ValidationError::new("secrets", "a public client holds no secrets"));
    }
    // As the store keeps it: the newest active secret's last four.
    c.secret_last_four = secrets
        .iter()
        .filter(|s| s.status == SecretStatus::Active)
        .max_by(|a, b| (a.created_at, &a.secret_id).cmp(&(b.created_at, &b.secret_id)))
        .map(|s| s.last_four.clone())
        .unwrap_or_default();
    Ok((c, secrets))
}

/// A line's `client_id` and body.
type Line = (String, Map<String, Value>);

fn parse_line(line: &str) -> Result<Line, String> {
    let body: Map<String, Value> = serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    match body.get("client_id") {
        Some(Value::String(s)) if !s.is_empty() => Ok((s.clone(), body)),
        _ => Err("client_id: required (imports are idempotent by client_id)".into()),
    }
}

fn from_export(t: &TenantId, client_id: &str, mut body: Map<String, Value>) -> Result<(Client, Option<Vec<SecretRecord>>), String> {
    let stored = body.remove("clavis").unwrap_or_default();
    let r: Record = serde_json::from_value(stored).map_err(|e| format!("clavis: {e}"))?;
    let (c, secrets) = from_record(t, client_id, r).map_err(|e| e.to_string())?;
    Ok((c, Some(secrets)))
}

fn from_hydra(t: &TenantId, body: &Map<String, Value>, current: Option<&Client>, now: i64) -> Result<Client, String> {
    if body.get("client_secret").is_some_and(|s| !s.is_null()) {
        return Err("client_secret: plaintext secrets are not imported; give the client without one and rotate".into());
    }
    let (mut c, _) = hydra_client::build(body, current, t).map_err(|e| e.to_string())?;
    let sector = &c.extras.hydra.sector_identifier_uri;
    if !sector.is_empty() && current.is_none_or(|p| p.extras.hydra.sector_identifier_uri != *sector) {
        // Registration fetches it to check the redirect URIs; an import fetches nothing.
        return Err("sector_identifier_uri: register such a client through the API, which checks it".into());
    }
    c.validate().map_err(|e| e.to_string())?;
    c.derive_cors_origins();
    match current {
        Some(p) if *p == c => {}
        Some(_) => c.updated_at = now,
        None => (c.id, c.created_at, c.updated_at) = (ids::ulid(), now, now),
    }
    Ok(c)
}

/// The secrets of a Hydra database row's hashes, kept as they are: they verify as in Hydra
/// and are re-hashed with argon2id on first use. Their ids derive from the hash, so the
/// same row imported again changes nothing (`None`: keep what is stored, which may have
/// been re-hashed since), and a row whose secret changed in Hydra replaces the secrets.
fn hydra_secrets(c: &Client, hashes: &Value, stored: Option<&Vec<SecretRecord>>, now: i64) -> Result<Option<Vec<SecretRecord>>, String> {
    let hashes = hashes.as_array().ok_or(format!("{SECRET_HASHES}: must be a list"))?;
    if !c.is_confidential {
        return Ok(None);
    }
    if c.auth_methods.contains(&AuthMethod::ClientSecretJwt) && !hashes.is_empty() {
        return Err("client_secret_jwt needs the secret itself, which Hydra's hash is not: import the client and rotate its secret".into());
    }
    let mut secrets = Vec::with_capacity(hashes.len());
    for h in hashes {
        let h = h.as_str().ok_or(format!("{SECRET_HASHES}: must be strings"))?;
        if !secret::is_stored_hash(h) {
            return Err(format!(
                "{SECRET_HASHES}: not a BCrypt (cost 4 to {}), PBKDF2 (at most {} iterations) or argon2id hash",
                clavis_core::imported_hash::MAX_BCRYPT_COST,
                clavis_core::imported_hash::MAX_PBKDF2_ITERATIONS
            ));
        }
        let secret_id = format!("hydra-{}", &secret::hash(h)["sha256$".len()..][..24]);
        if secrets.iter().any(|s: &SecretRecord| s.secret_id == secret_id) {
            continue;
        }
        secrets.push(SecretRecord {
            secret_id,
            client_id: c.client_id.clone(),
            secret_hash: h.to_owned(),
            last_four: String::new(),
            description: "imported from Hydra".into(),
            status: SecretStatus::Active,
            created_at: now,
            updated_at: now,
            expires_at: None,
            last_used_at: None,
            sealed: None,
        });
    }
    let ids = |v: &[SecretRecord]| {
        let mut ids: Vec<String> = v.iter().map(|s| s.secret_id.clone()).collect();
        ids.sort();
        ids
    };
    Ok(match stored {
        Some(stored) if ids(stored) == ids(&secrets) => None,
        None if secrets.is_empty() => None,
        _ => Some(secrets),
    })
}

impl Services {
    /// Up to `limit` export lines of the clients added after `after` (a cursor: 0 to start),
    /// oldest first, and the cursor of the next call (`None` at the end).
    pub async fn export_clients(&self, t: &TenantId, after: i64, limit: i64) -> Result<(Vec<String>, Option<i64>), clavis_store::StoreError> {
        let page = self.store.clients_in_order(t, after, limit).await?;
        let next = if (page.len() as i64) < limit { None } else { page.last().map(|(seq, _)| *seq) };
        let ids: Vec<&str> = page.iter().map(|(_, c)| c.client_id.as_str()).collect();
        let mut secrets = self.store.secrets_of_clients(t, &ids).await?;
        let now = self.now();
        let mut lines = Vec::with_capacity(page.len());
        for (_, c) in &page {
            let secrets = secrets.remove(&c.client_id).unwrap_or_default();
            let view = hydra_client::HydraClient { client_secret_expires_at: crate::registry::secret_expiry(&secrets, now), ..hydra_client::view(c) };
            let mut line = match serde_json::to_value(view) {
                Ok(Value::Object(m)) => m,
                _ => unreachable!("a Hydra client serializes to an object"),
            };
            line.insert("clavis".into(), serde_json::to_value(record(c, &secrets)).expect("a record serializes"));
            lines.push(Value::Object(line).to_string());
        }
        Ok((lines, next))
    }

    /// Import lines, parsed and checked, each an item or why it is refused. A Hydra line is
    /// applied to the client it names, if there is one (read for the whole batch at once),
    /// as Hydra's replace would be: its id, creation time, status and secrets stay, and
    /// nothing changes if nothing differs. A client named twice is built on its first line.
    pub async fn prepare_import(
        &self,
        t: &TenantId,
        lines: &[String],
        actor: &Actor,
    ) -> Result<Vec<Result<ImportItem, String>>, clavis_store::StoreError> {
        let parsed: Vec<Result<Line, String>> = lines.iter().map(|l| parse_line(l)).collect();
        let hydra_ids: Vec<&str> =
            parsed.iter().filter_map(|p| p.as_ref().ok()).filter(|(_, b)| !b.contains_key("clavis")).map(|(id, _)| id.as_str()).collect();
        let mut current: HashMap<String, Client> =
            self.store.get_clients(t, &hydra_ids).await?.into_iter().map(|c| (c.client_id.clone(), c)).collect();
        let with_hashes: Vec<&str> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .filter(|(id, b)| b.contains_key(SECRET_HASHES) && current.contains_key(id))
            .map(|(id, _)| id.as_str())
            .collect();
        let stored_secrets = self.store.secrets_of_clients(t, &with_hashes).await?;
        let now = self.now();
        let mut out = Vec::with_capacity(lines.len());
        for p in parsed {
            let item = p.and_then(|(client_id, mut body)| {
                let (client, secrets) = match body.get("clavis") {
                    Some(_) => from_export(t, &client_id, body)?,
                    None => {
                        let hashes = body.remove(SECRET_HASHES);
                        let c = from_hydra(t, &body, current.get(&client_id), now)?;
                        let secrets = match hashes {
                            Some(h) => hydra_secrets(&c, &h, stored_secrets.get(&client_id), now)?,
                            None => None,
                        };
                        current.insert(client_id, c.clone());
                        (c, secrets)
                    }
                };
                let entry = audit(&client.client_id, actor, "import", vec![], String::new(), now);
                Ok(ImportItem { client, secrets, audit: entry })
            });
            out.push(item);
        }
        Ok(out)
    }

    /// Refreshes the database's statistics (see `Store::refresh_statistics`).
    pub async fn refresh_statistics(&self) -> Result<(), clavis_store::StoreError> {
        self.store.refresh_statistics().await
    }

    /// Imports a batch of checked lines in one transaction; the clients the cache held are
    /// dropped from it.
    pub async fn import_batch(&self, t: &TenantId, items: &[ImportItem]) -> Result<Vec<ImportOutcome>, clavis_store::StoreError> {
        let outcomes = self.store.import_clients(t, items).await?;
        for (item, outcome) in items.iter().zip(&outcomes) {
            if *outcome == ImportOutcome::Updated {
                self.clients.invalidate(t, &item.client.client_id);
            }
        }
        Ok(outcomes)
    }
}
